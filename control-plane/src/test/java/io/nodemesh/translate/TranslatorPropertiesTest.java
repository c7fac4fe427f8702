package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Properties every translation must have, checked on a synthetic cluster rather than hand-written cases. */
class TranslatorPropertiesTest {

  private final ClusterState state = SyntheticCluster.build(4, 5, 6);

  @Test
  void sameStateGivesByteIdenticalResources() {
    for (UpstreamBinding binding : UpstreamBinding.values()) {
      TranslatorOptions options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding);
      NodeResources first = NodeTranslator.translate(state, "node-1", options);
      NodeResources again = NodeTranslator.translate(SyntheticCluster.build(4, 5, 6), "node-1", options);
      assertThat(serialized(again.listeners())).isEqualTo(serialized(first.listeners()));
      assertThat(serialized(again.clusters())).isEqualTo(serialized(first.clusters()));
      assertThat(serialized(again.endpoints())).isEqualTo(serialized(first.endpoints()));
      assertThat(serialized(again.routes())).isEqualTo(serialized(first.routes()));
    }
  }

  @Test
  void aResourceNameMeansTheSameContentOnEveryNode() {
    for (UpstreamBinding binding : UpstreamBinding.values()) {
      TranslatorOptions options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding);
      Map<String, Message> seen = new HashMap<>();
      for (NodeResources node : NodeTranslator.translateAll(state, options)) {
        for (Map<String, ? extends Message> resources :
            ImmutableList.of(node.listeners(), node.clusters(), node.endpoints(), node.routes())) {
          resources.forEach((name, resource) -> {
            Message previous = seen.putIfAbsent(resource.getDescriptorForType().getName() + " " + name, resource);
            if (previous != null) {
              assertThat(resource).as("%s on %s", name, node.nodeName()).isEqualTo(previous);
            }
          });
        }
      }
    }
  }

  @Test
  void sharedModeHasAServiceLayerPerServicePortAndOneSmallListenerPerPod() {
    NodeResources node = NodeTranslator.translate(state, "node-2", TranslatorOptions.DEFAULTS);
    // 5 pod listeners, plus an internal listener per HTTP/gRPC port (6 services x 2)
    assertThat(node.listeners()).hasSize(5 + 6 * 2);
    // a destination cluster per port (one ClusterIP each), a shared cluster per HTTP/gRPC port, passthrough, blackhole
    assertThat(node.clusters()).hasSize(6 * 3 + 6 * 2 + 2);
    assertThat(node.endpoints()).hasSize(6 * 3);
    assertThat(node.routes()).hasSize(6 * 2); // grpc and http ports only
    assertThat(node.listeners().keySet()).allMatch(name -> name.startsWith("pod/apps/pod-1") || name.startsWith("svc/"));
    // every pod listener: loop guard and one service chain, whatever the catalogue
    node.listeners().values().stream().filter(listener -> listener.getName().startsWith("pod/"))
        .forEach(listener -> assertThat(listener.getFilterChainsCount()).isEqualTo(2));
  }

  @Test
  void perPodModeHasClustersPerPodAndServicePortAndInlineRoutes() {
    TranslatorOptions perPod = TranslatorOptions.DEFAULTS.withUpstreamBinding(UpstreamBinding.PER_POD);
    NodeResources node = NodeTranslator.translate(state, "node-2", perPod);
    // 5 pods x (6 services x 3 ports + own passthrough), plus blackhole
    assertThat(node.clusters()).hasSize(5 * (6 * 3 + 1) + 1);
    assertThat(node.routes()).isEmpty();
    assertThat(node.endpoints()).hasSize(6 * 3);
    Cluster cluster = node.clusters().get("pod/apps/pod-10/svc/apps/svc-0/50051");
    assertThat(cluster.getEdsClusterConfig().getServiceName()).isEqualTo("svc/apps/svc-0/50051");
    assertThat(cluster.getUpstreamBindConfig().getSourceAddress().getNetworkNamespaceFilepath())
        .isEqualTo("/var/run/nodemesh/netns/00000000-0000-0000-0000-000000000010");
  }

  @Test
  void everyResourceOfEveryNodePassesEnvoyValidation() {
    for (UpstreamBinding binding : UpstreamBinding.values()) {
      for (NodeResources node :
          NodeTranslator.translateAll(state, TranslatorOptions.DEFAULTS.withUpstreamBinding(binding))) {
        for (Map<String, ? extends Message> resources :
            ImmutableList.of(node.listeners(), node.clusters(), node.endpoints(), node.routes())) {
          resources.forEach((name, resource) ->
              assertThat(EnvoyValidator.violations(resource)).as(name).isEmpty());
        }
      }
    }
  }

  @Test
  void aPodThatBecomesUnmeshedLeavesTheOtherPodsOfItsNodeUntouched() {
    TranslatorOptions options = TranslatorOptions.DEFAULTS;
    NodeResources before = NodeTranslator.translate(state, "node-0", options);
    PodInfo victim = state.pod(ObjectKey.of("apps", "pod-2")).orElseThrow();
    ClusterState after = state.toBuilder()
        .putPod(victim.withIps(ImmutableList.of("not-an-ip")))
        .build();
    NodeResources changed = NodeTranslator.translate(after, "node-0", options);
    assertThat(changed.listeners()).doesNotContainKey("pod/apps/pod-2/outbound");
    assertThat(changed.listeners()).hasSize(before.listeners().size() - 1);
    changed.listeners().forEach((name, listener) -> assertThat(listener).isEqualTo(before.listeners().get(name)));
    assertThat(after.problems()).anyMatch(p -> p.name().equals("pod-2") && p.reason().contains("not-an-ip"));
  }

  private static Map<String, ImmutableList<Byte>> serialized(ImmutableSortedMap<String, ? extends Message> map) {
    Map<String, ImmutableList<Byte>> bytes = new HashMap<>();
    map.forEach((name, message) -> bytes.put(name, ImmutableList.copyOf(
        com.google.common.primitives.Bytes.asList(message.toByteArray()))));
    return bytes;
  }
}
