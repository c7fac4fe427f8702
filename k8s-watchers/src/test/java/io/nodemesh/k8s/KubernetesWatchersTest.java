package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.ServicePort;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesWatchersTest {

  private static final ObjectKey WEB_1 = ObjectKey.of("shop", "web-1");
  private static final ObjectKey WEB = ObjectKey.of("shop", "web");

  KubernetesClient client;
  private WatcherHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) {
      harness.close();
    }
  }

  @Test
  void theModelIsSyncedOnlyAfterEveryInformerListedAndThenHoldsWhatWasThere() {
    client.namespaces().resource(namespace("shop", false)).create();
    client.nodes().resource(node("node-a", "z1")).create();
    client.pods().inNamespace("shop").resource(pod("web-1", "node-a", "10.0.0.1", "Running")).create();

    harness = new WatcherHarness(client).awaitSynced();

    ClusterState state = harness.store.synced().join();
    assertThat(state.pods()).containsOnlyKeys(WEB_1);
    assertThat(state.nodes()).containsOnlyKeys("node-a");
    assertThat(state.namespaces()).containsOnlyKeys("shop");
    assertThat(harness.published.get(0).change().full()).isTrue();
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
    WatchHealth health = harness.watchers.health();
    assertThat(health.synced()).isTrue();
    assertThat(health.kinds()).allSatisfy((kind, status) -> {
      assertThat(status.hasSynced()).isTrue();
      assertThat(status.lists()).isEqualTo(1);
    });
    assertThat(harness.watchers.eventCounts()).containsEntry(ResourceKind.POD, 1L).containsEntry(ResourceKind.NODE, 1L);
  }

  @Test
  void aPodIsFollowedFromPendingThroughRunningAndTerminatingToDeleted() {
    client.namespaces().resource(namespace("shop", true)).create();
    harness = new WatcherHarness(client).awaitSynced();

    Pod pending = new PodBuilder(pod("web-1", null, null, "Pending"))
        .editMetadata().withFinalizers("test.nodemesh.io/hold").endMetadata().build();
    client.pods().inNamespace("shop").resource(pending).create();
    PodInfo created = harness.awaitState(s -> s.pods().containsKey(WEB_1)).pods().get(WEB_1);
    assertThat(created.phase()).isEqualTo(PodPhase.PENDING);
    assertThat(created.mesh().meshed()).isFalse();
    assertThat(created.mesh().reason()).contains("not scheduled");

    int scheduled = harness.mark();
    client.pods().inNamespace("shop").withName("web-1")
        .edit(p -> new PodBuilder(p).editSpec().withNodeName("node-a").endSpec().build());
    harness.awaitState(s -> s.pods().get(WEB_1).nodeName().isPresent());
    assertThat(harness.changesSince(scheduled).podNodes()).containsExactly("node-a");

    client.pods().inNamespace("shop").withName("web-1").edit(p -> new PodBuilder(p)
        .editStatus().withPodIP("10.0.0.1").addNewPodIP().withIp("10.0.0.1").endPodIP().endStatus().build());
    PodInfo withIp = harness.awaitState(s -> !s.pods().get(WEB_1).ips().isEmpty()).pods().get(WEB_1);
    assertThat(withIp.ips()).containsExactly("10.0.0.1");
    assertThat(withIp.mesh().meshed()).isTrue();

    client.pods().inNamespace("shop").withName("web-1")
        .edit(p -> new PodBuilder(p).editStatus().withPhase("Running").endStatus().build());
    harness.awaitState(s -> s.pods().get(WEB_1).phase() == PodPhase.RUNNING);

    // the finalizer keeps the deleted pod around with a deletionTimestamp, as the kubelet's grace period would
    client.pods().inNamespace("shop").withName("web-1").delete();
    PodInfo terminating = harness.awaitState(s -> s.pods().get(WEB_1).terminating()).pods().get(WEB_1);
    assertThat(terminating.mesh().meshed()).as("terminating pods still talk").isTrue();

    int deleted = harness.mark();
    client.pods().inNamespace("shop").withName("web-1")
        .edit(p -> new PodBuilder(p).editMetadata().withFinalizers(List.of()).endMetadata().build());
    harness.awaitState(s -> !s.pods().containsKey(WEB_1));
    assertThat(harness.changesSince(deleted).pods()).containsExactly(WEB_1);
    assertThat(harness.changesSince(deleted).podNodes()).containsExactly("node-a");
  }

  @Test
  void servicePortChangesReachTheModelAndNameTheService() {
    client.services().inNamespace("shop").resource(new ServiceBuilder()
        .withNewMetadata().withNamespace("shop").withName("web").endMetadata()
        .withNewSpec().withClusterIP("10.96.0.10").withSelector(Map.of("app", "web"))
        .addToPorts(new ServicePortBuilder().withName("http").withPort(80).withTargetPort(new IntOrString(8080)).build())
        .endSpec().build()).create();
    harness = new WatcherHarness(client).awaitSynced();
    assertThat(harness.state().services().get(WEB).ports())
        .containsExactly(new ServicePort("http", 80, "8080", io.nodemesh.model.Protocol.TCP, Optional.empty()));

    int mark = harness.mark();
    client.services().inNamespace("shop").withName("web").edit(s -> new ServiceBuilder(s).editSpec()
        .withPorts(
            new ServicePortBuilder().withName("http").withPort(80).withTargetPort(new IntOrString("web")).build(),
            new ServicePortBuilder().withName("grpc").withPort(9090).withAppProtocol("grpc").build())
        .endSpec().build());

    ClusterState state = harness.awaitState(s -> s.services().get(WEB).ports().size() == 2);
    assertThat(state.services().get(WEB).ports()).extracting(ServicePort::name, ServicePort::targetPort)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("http", "web"),
            org.assertj.core.groups.Tuple.tuple("grpc", "9090"));
    Change change = harness.changesSince(mark);
    assertThat(change.services()).containsExactly(WEB);
    assertThat(change.pods()).isEmpty();
  }

  @Test
  void endpointSliceChurnAcrossSeveralSlicesOfOneServiceIsTrackedPerSlice() {
    harness = new WatcherHarness(client).awaitSynced();
    for (int s = 0; s < 3; s++) {
      client.discovery().v1().endpointSlices().inNamespace("shop")
          .resource(slice("web-" + s, "web", "10.0." + s + ".1", "10.0." + s + ".2")).create();
    }
    harness.awaitState(st -> st.slicesOf(WEB).size() == 3);
    assertThat(readyAddresses(harness.state())).hasSize(6);

    int mark = harness.mark();
    client.discovery().v1().endpointSlices().inNamespace("shop").withName("web-1").edit(s -> new EndpointSliceBuilder(s)
        .editEndpoint(0).editConditions().withReady(false).withServing(true).withTerminating(true).endConditions()
        .endEndpoint().build());
    client.discovery().v1().endpointSlices().inNamespace("shop").withName("web-2").delete();
    client.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web-3", "web", "10.0.3.1")).create();

    ClusterState state = harness.awaitState(st -> st.slicesOf(WEB).size() == 3
        && st.endpointSlices().containsKey(ObjectKey.of("shop", "web-3"))
        && !st.endpointSlices().get(ObjectKey.of("shop", "web-1")).endpoints().get(0).ready());
    assertThat(readyAddresses(state)).containsExactlyInAnyOrder("10.0.0.1", "10.0.0.2", "10.0.1.2", "10.0.3.1");
    EndpointInfo draining = state.endpointSlices().get(ObjectKey.of("shop", "web-1")).endpoints().get(0);
    assertThat(draining.serving()).isTrue();
    assertThat(draining.terminating()).isTrue();
    assertThat(harness.changesSince(mark).endpoints()).containsExactly(WEB);
    assertThat(harness.changesSince(mark).services()).isEmpty();
  }

  @Test
  void labellingANamespaceMeshesItsPodsAndUnlabellingUnmeshesThem() {
    client.namespaces().resource(namespace("shop", false)).create();
    client.pods().inNamespace("shop").resource(pod("web-1", "node-a", "10.0.0.1", "Running")).create();
    client.pods().inNamespace("shop").resource(pod("web-2", "node-b", "10.0.0.2", "Running")).create();
    harness = new WatcherHarness(client).awaitSynced();
    assertThat(harness.state().pods().values()).noneMatch(p -> p.mesh().meshed());

    int optIn = harness.mark();
    client.namespaces().withName("shop").edit(n -> namespace("shop", true));
    harness.awaitState(s -> s.pods().values().stream().allMatch(p -> p.mesh().meshed()));
    Change change = harness.changesSince(optIn);
    assertThat(change.namespaces()).containsExactly("shop");
    assertThat(change.pods()).containsExactlyInAnyOrder(WEB_1, ObjectKey.of("shop", "web-2"));
    assertThat(change.podNodes()).containsExactlyInAnyOrder("node-a", "node-b");

    int optOut = harness.mark();
    client.namespaces().withName("shop").edit(n -> namespace("shop", false));
    harness.awaitState(s -> s.pods().values().stream().noneMatch(p -> p.mesh().meshed()));
    assertThat(harness.changesSince(optOut).podNodes()).containsExactlyInAnyOrder("node-a", "node-b");
  }

  @Test
  void aDeletedNodeLeavesTheModelAndIsReported() {
    client.nodes().resource(node("node-a", "z1")).create();
    client.nodes().resource(node("node-b", "z2")).create();
    harness = new WatcherHarness(client).awaitSynced();
    assertThat(harness.state().nodes()).containsOnlyKeys("node-a", "node-b");
    assertThat(harness.state().nodes().get("node-b").zone()).contains("z2");

    int mark = harness.mark();
    client.nodes().withName("node-b").delete();

    harness.awaitState(s -> !s.nodes().containsKey("node-b"));
    assertThat(harness.state().nodes()).containsOnlyKeys("node-a");
    assertThat(harness.changesSince(mark).nodes()).containsExactly("node-b");
    assertThat(harness.changesSince(mark).nodesChanged()).isTrue();
  }

  @Test
  void aPodRecreatedOnAnotherNodeReportsBothNodes() {
    client.pods().inNamespace("shop").resource(pod("web-1", "node-a", "10.0.0.1", "Running")).create();
    harness = new WatcherHarness(client).awaitSynced();

    int mark = harness.mark();
    client.pods().inNamespace("shop").withName("web-1").delete();
    client.pods().inNamespace("shop").resource(pod("web-1", "node-b", "10.0.0.7", "Running")).create();

    harness.awaitState(s -> s.pods().containsKey(WEB_1) && s.pods().get(WEB_1).nodeName().equals(Optional.of("node-b")));
    assertThat(harness.state().podsOnNode("node-a")).isEmpty();
    assertThat(harness.changesSince(mark).podNodes()).containsExactlyInAnyOrder("node-a", "node-b");
  }

  @Test
  void hostileObjectsBecomeProblemsWhileTheInformersKeepGoing() {
    harness = new WatcherHarness(client).awaitSynced();

    // the mock server, unlike a real one, stores whatever it is given
    client.pods().inNamespace("shop").resource(new PodBuilder()
        .withNewMetadata().withNamespace("shop").withName("no-spec").endMetadata().build()).create();
    client.pods().inNamespace("shop").resource(pod("bad-ip", "node-a", "10.0.0.999", "Running")).create();
    client.services().inNamespace("shop").resource(new ServiceBuilder()
        .withNewMetadata().withNamespace("shop").withName("odd").endMetadata()
        .withNewSpec().withClusterIP("10.96.0.99")
        .addToPorts(new ServicePortBuilder().withName("quic").withPort(443).withProtocol("QUIC").build())
        .addToPorts(new ServicePortBuilder().withName("https").withPort(443).build())
        .endSpec().build()).create();
    client.discovery().v1().endpointSlices().inNamespace("shop").resource(new EndpointSliceBuilder()
        .withNewMetadata().withNamespace("shop").withName("weird").endMetadata()
        .withAddressType("AppleTalk").build()).create();
    client.pods().inNamespace("other").resource(pod("web-1", "node-b", "10.0.0.2", "Running")).create();
    client.pods().inNamespace("shop").resource(pod("web-1", "node-a", "10.0.0.1", "Running")).create();

    ClusterState state = harness.awaitState(s -> s.pods().containsKey(WEB_1)
        && s.pods().containsKey(ObjectKey.of("other", "web-1")) && s.services().containsKey(ObjectKey.of("shop", "odd"))
        && s.problems().size() >= 4);
    assertThat(state.pods()).containsOnlyKeys(WEB_1, ObjectKey.of("other", "web-1"), ObjectKey.of("shop", "bad-ip"));
    assertThat(state.pods().get(ObjectKey.of("shop", "bad-ip")).ips()).isEmpty();
    assertThat(state.services().get(ObjectKey.of("shop", "odd")).ports()).extracting(ServicePort::name)
        .containsExactly("https");
    assertThat(state.problems()).extracting(p -> p.kind() + " " + p.namespace() + "/" + p.name())
        .contains("Pod shop/no-spec", "Pod shop/bad-ip", "Service shop/odd", "EndpointSlice shop/weird");
  }

  private static List<String> readyAddresses(ClusterState state) {
    return state.slicesOf(WEB).stream().flatMap(s -> s.endpoints().stream()).filter(EndpointInfo::ready)
        .flatMap(e -> e.addresses().stream()).toList();
  }

  static io.fabric8.kubernetes.api.model.Namespace namespace(String name, boolean meshed) {
    return new NamespaceBuilder().withNewMetadata().withName(name)
        .withLabels(meshed ? Map.of("nodemesh.io/mesh", "enabled") : Map.of("team", "shop")).endMetadata().build();
  }

  static io.fabric8.kubernetes.api.model.Node node(String name, String zone) {
    return new NodeBuilder().withNewMetadata().withName(name).withLabels(Map.of(Converters.ZONE_LABEL, zone))
        .endMetadata().withNewStatus().addNewCondition().withType("Ready").withStatus("True").endCondition()
        .endStatus().build();
  }

  static Pod pod(String name, String node, String ip, String phase) {
    PodBuilder builder = new PodBuilder()
        .withNewMetadata().withNamespace("shop").withName(name).withUid("uid-" + name)
        .withLabels(Map.of("app", "web")).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app:1").endContainer().endSpec()
        .withNewStatus().withPhase(phase).endStatus();
    if (ip != null) {
      builder.editStatus().withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus();
    }
    return builder.build();
  }

  static EndpointSlice slice(String name, String service, String... ips) {
    EndpointSliceBuilder builder = new EndpointSliceBuilder()
        .withNewMetadata().withNamespace("shop").withName(name)
        .withLabels(Map.of(Converters.SERVICE_NAME_LABEL, service)).endMetadata()
        .withAddressType("IPv4")
        .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
    for (String ip : ips) {
      builder.addToEndpoints(new EndpointBuilder().withAddresses(ip).withNodeName("node-a")
          .withNewConditions().withReady(true).endConditions().build());
    }
    return builder.build();
  }
}
