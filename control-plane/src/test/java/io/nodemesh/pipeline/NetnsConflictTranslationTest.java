package io.nodemesh.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.nodemesh.k8s.ClusterStateStore;
import io.nodemesh.k8s.Debouncer;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.k8s.WatcherOptions;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NetnsMode;
import io.nodemesh.model.NetnsPaths;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.translate.NodeNames;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.xds.Resource;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.ResourceType;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Annotation netns mode through the production wiring (informers, store, debouncer, translation pipeline,
 * resource store, as {@code ControlPlane} connects them): a namespace path that a second pod of the same node
 * names never gets a listener for the second pod, and its owner gets its listener back when the other goes.
 */
@EnableKubernetesMockClient(crud = true)
class NetnsConflictTranslationTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final String VICTIM_NETNS = "/var/run/netns/cni-1f2e3d4c";
  private static final MeshOptions ANNOTATION_MODE =
      new MeshOptions(true, NetnsMode.ANNOTATION, null, MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX);

  KubernetesClient client;
  private final ResourceStore resources = new ResourceStore();
  private final ClusterStateStore stateStore = new ClusterStateStore(ANNOTATION_MODE);
  private final Debouncer debouncer = Debouncer.create(WatcherOptions.DEFAULTS);
  private final TranslationPipeline pipeline = new TranslationPipeline(resources, TranslatorOptions.DEFAULTS, o -> {});
  private KubernetesWatchers watchers;

  @BeforeEach
  void wire() {
    stateStore.subscribe(debouncer);
    debouncer.subscribe(pipeline);
  }

  @AfterEach
  void close() {
    if (watchers != null) {
      watchers.close();
    }
    debouncer.close();
    stateStore.close();
    pipeline.close();
  }

  @Test
  void aSecondPodNamingTheSameNamespaceGetsNoListenerAndTheOwnerGetsItsBackWhenItGoes() {
    client.pods().inNamespace("shop").resource(pod("shop", "web-1", "node-a", "10.0.0.1", VICTIM_NETNS)).create();
    client.pods().inNamespace("shop").resource(pod("shop", "web-2", "node-b", "10.0.1.1", VICTIM_NETNS)).create();
    client.pods().inNamespace("shop").resource(pod("shop", "cart", "node-a", "10.0.0.2", "/var/run/netns/cni-cart"))
        .create();
    watchers = KubernetesWatchers.start(client, stateStore, WatcherOptions.DEFAULTS);
    await().atMost(DEADLINE).until(() -> listenersIn("node-a", VICTIM_NETNS).size() == 1);
    assertThat(listenersIn("node-a", VICTIM_NETNS)).containsExactly("pod/shop/web-1/outbound");

    client.pods().inNamespace("evil").resource(pod("evil", "thief", "node-a", "10.0.0.3", VICTIM_NETNS)).create();

    await().atMost(DEADLINE).until(() -> pipeline.view().state().pod(ObjectKey.of("evil", "thief")).isPresent()
        && listenersIn("node-a", VICTIM_NETNS).isEmpty());
    assertThat(resources.snapshot().get(ResourceType.LISTENER, "pod/evil/thief/outbound")).isEmpty();
    assertThat(resources.snapshot().get(ResourceType.LISTENER, "pod/shop/web-1/outbound")).isEmpty();
    assertThat(listenersIn("node-a", "/var/run/netns/cni-cart")).containsExactly("pod/shop/cart/outbound");
    assertThat(listenersIn("node-b", VICTIM_NETNS)).as("the same path on another node is another namespace")
        .containsExactly("pod/shop/web-2/outbound");
    assertThat(pipeline.view().state().pod(ObjectKey.of("shop", "web-1")).orElseThrow().mesh().reason())
        .contains("evil/thief", "node-a");
    assertThat(pipeline.view().state().problems())
        .extracting(problem -> problem.namespace() + "/" + problem.name())
        .containsExactlyInAnyOrder("shop/web-1", "evil/thief");

    client.pods().inNamespace("evil").withName("thief").delete();

    await().atMost(DEADLINE).until(() -> listenersIn("node-a", VICTIM_NETNS).size() == 1);
    assertThat(listenersIn("node-a", VICTIM_NETNS)).containsExactly("pod/shop/web-1/outbound");
    assertThat(pipeline.view().state().problems()).isEmpty();
  }

  /** The names of the listeners a node's Envoy is served that open in {@code netns}. */
  private List<String> listenersIn(String node, String netns) {
    NodeNames names = pipeline.view().nodes().get(node);
    if (names == null) {
      return List.of();
    }
    return names.listeners().stream()
        .filter(name -> resources.snapshot().get(ResourceType.LISTENER, name)
            .map(Resource::message)
            .map(message -> ((Listener) message).getAddress().getSocketAddress().getNetworkNamespaceFilepath())
            .filter(netns::equals)
            .isPresent())
        .toList();
  }

  private static Pod pod(String namespace, String name, String node, String ip, String netns) {
    return new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).withUid("uid-" + name)
        .withAnnotations(Map.of(NetnsPaths.ANNOTATION, netns)).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app:1").endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus()
        .build();
  }
}
