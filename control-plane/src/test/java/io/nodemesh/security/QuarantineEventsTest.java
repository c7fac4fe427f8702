package io.nodemesh.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.xds.NodeIdentity;
import io.nodemesh.xds.Quarantine;
import io.nodemesh.xds.ResourceType;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A quarantined resource becomes a Warning event on its pod (or Service) in fabric8's mock API. */
@EnableKubernetesMockClient(crud = true)
class QuarantineEventsTest {

  private static final NodeIdentity ENVOY = new NodeIdentity("nodemesh-envoy-x7k2p", "worker-1", true);

  KubernetesClient client;
  private QuarantineEvents events;

  private final ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
      .putPod(new PodInfo("uid-web-1", "shop", "web-1", Optional.of("worker-1"), ImmutableList.of("10.0.0.7"),
          PodPhase.RUNNING, false, false, null, null, null))
      .putService(TestServices.http("shop", "web", 80))
      .build();

  @AfterEach
  void close() {
    if (events != null) {
      events.close();
    }
  }

  private static Quarantine.Entry entry(ResourceType type, String name) {
    return new Quarantine.Entry("node:worker-1", ENVOY.nodeId(), type, name, "0123abcd",
        "bad filter chain: unknown filter", 0);
  }

  private List<Event> eventsIn(String namespace) {
    return client.v1().events().inNamespace(namespace).list().getItems();
  }

  @Test
  void aQuarantinedPodListenerBecomesAWarningEventOnThatPod() {
    events = new QuarantineEvents(client, () -> state, Clock.systemUTC(), "control-plane-0");

    events.onQuarantine(ENVOY, entry(ResourceType.LISTENER, "pod/shop/web-1/outbound"));

    await().until(() -> eventsIn("shop").size() == 1);
    Event event = eventsIn("shop").get(0);
    assertThat(event.getInvolvedObject().getKind()).isEqualTo("Pod");
    assertThat(event.getInvolvedObject().getName()).isEqualTo("web-1");
    assertThat(event.getInvolvedObject().getUid()).isEqualTo("uid-web-1");
    assertThat(event.getReason()).isEqualTo("XdsResourceRejected");
    assertThat(event.getType()).isEqualTo("Warning");
    assertThat(event.getSource().getComponent()).isEqualTo("nodemesh-control-plane");
    assertThat(event.getReportingInstance()).isEqualTo("control-plane-0");
    assertThat(event.getMessage())
        .isEqualTo("Envoy nodemesh-envoy-x7k2p on node worker-1 rejected LDS pod/shop/web-1/outbound (version"
            + " 0123abcd); it is withheld from that Envoy until its configuration changes. Error: bad filter chain:"
            + " unknown filter");
    assertThat(events.created()).isEqualTo(1);
  }

  @Test
  void sharedServiceResourcesAndProxylessListenersReportOnTheServiceOncePerInterval() {
    events = new QuarantineEvents(client, () -> state, Clock.systemUTC(), "");

    events.onQuarantine(ENVOY, entry(ResourceType.CLUSTER, "svc/shop/web/80"));
    events.onQuarantine(ENVOY, entry(ResourceType.LISTENER, "web.shop.svc.cluster.local:80"));

    await().until(() -> eventsIn("shop").size() == 1);
    Event event = eventsIn("shop").get(0);
    assertThat(event.getInvolvedObject().getKind()).isEqualTo("Service");
    assertThat(event.getInvolvedObject().getName()).isEqualTo("web");
    assertThat(event.getMessage()).contains("rejected CDS svc/shop/web/80");
    assertThat(QuarantineEvents.involvedObject("web.shop.svc.cluster.local:80", state))
        .hasValueSatisfying(target -> assertThat(target.getName()).isEqualTo("web"));
    assertThat(events.suppressed()).as("the second rejection on the same Service within the interval").isEqualTo(1);
  }

  @Test
  void eventsAreBoundedPerMinuteAndAnonymousClientsWriteNone() {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS);
    for (int i = 0; i < QuarantineEvents.PER_MINUTE + 5; i++) {
      builder.putService(TestServices.http("shop", "svc-" + i, 80));
    }
    ClusterState target = builder.build();
    events = new QuarantineEvents(client, () -> target, Clock.systemUTC(), "");
    NodeIdentity anonymous = new NodeIdentity("anything", "", false, "peer:10.0.0.9", 7);

    events.onQuarantine(anonymous, entry(ResourceType.CLUSTER, "svc/shop/svc-0/80"));
    for (int i = 0; i < QuarantineEvents.PER_MINUTE + 5; i++) {
      events.onQuarantine(ENVOY, entry(ResourceType.CLUSTER, "svc/shop/svc-" + i + "/80"));
    }

    await().until(() -> events.created() == QuarantineEvents.PER_MINUTE);
    assertThat(events.suppressed()).isEqualTo(6);
    assertThat(eventsIn("shop")).hasSize(QuarantineEvents.PER_MINUTE);
  }

  @Test
  void resourcesOfNoKnownObjectAreOnlyLogged() {
    events = new QuarantineEvents(client, () -> state, Clock.systemUTC(), "");

    events.onQuarantine(ENVOY, entry(ResourceType.CLUSTER, "passthrough"));
    events.onQuarantine(ENVOY, entry(ResourceType.LISTENER, "pod/shop/gone-pod/outbound"));

    assertThat(QuarantineEvents.involvedObject("passthrough", state)).isEmpty();
    assertThat(QuarantineEvents.involvedObject("pod/shop/gone-pod/outbound", state)).isEmpty();
    events.close();
    assertThat(eventsIn("shop")).isEmpty();
  }

  @Test
  void anApiErrorIsCountedAndNeverReachesTheStream() {
    KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
        .withMasterUrl("http://127.0.0.1:1").withRequestRetryBackoffLimit(0).withConnectionTimeout(500).build())
        .build();
    try {
      events = new QuarantineEvents(unreachable, () -> state, Clock.systemUTC(), "");

      events.onQuarantine(ENVOY, entry(ResourceType.LISTENER, "pod/shop/web-1/outbound"));

      await().until(() -> events.failed() == 1);
      assertThat(events.created()).isZero();
    } finally {
      events.close();
      unreachable.close();
    }
  }

  /** Services for the model. */
  static final class TestServices {
    static ServiceInfo http(String namespace, String name, int port) {
      return new ServiceInfo(namespace, name, ImmutableList.of("10.96.0.10"),
          ImmutableList.of(new ServicePort("http", port, Integer.toString(port), Protocol.TCP, Optional.of("http"))),
          null);
    }
  }
}
