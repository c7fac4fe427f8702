package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.TrafficDistribution;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Services asking for trafficDistribution get variants; nothing of the others changes. */
class TrafficDistributionTranslationTest {

  private static final int SERVICES = 30;

  private static TrafficDistribution asked(int service) {
    return service % 10 == 0 ? TrafficDistribution.PREFER_SAME_ZONE
        : service % 10 == 5 ? TrafficDistribution.PREFER_SAME_NODE : TrafficDistribution.NONE;
  }

  @Test
  void servicesThatDoNotAskAndTheBaseOfThoseThatDoAreByteIdentical() {
    for (TranslatorOptions options : ImmutableList.of(TranslatorOptions.DEFAULTS,
        TranslatorOptions.DEFAULTS.withServiceCidrs(ImmutableList.of("10.96.0.0/16")),
        TranslatorOptions.DEFAULTS.withUpstreamBinding(UpstreamBinding.PER_POD))) {
      SharedResources before = SharedResources.translate(SyntheticCluster.build(4, 2, SERVICES), options);
      SharedResources after =
          SharedResources.translate(SyntheticCluster.build(4, 2, SERVICES, TrafficDistributionTranslationTest::asked),
              options);

      assertThat(after.byName().keySet()).isEqualTo(before.byName().keySet());
      before.byName().forEach((name, port) -> {
        ServicePortResources now = after.byName().get(name);
        ImmutableList<Message> base = ImmutableList.<Message>builder()
            .add(now.cluster(), now.endpoints(), now.routes()).addAll(now.proxylessListeners())
            .addAll(now.destinationClusters()).addAll(now.internalListener() == null ? ImmutableList.of()
                : ImmutableList.of(now.internalListener())).build();
        assertThat(serialized(base)).as(name).isEqualTo(serialized(port.allResources()));
        boolean asks = options.upstreamBinding() == UpstreamBinding.SHARED
            && now.outbound().service().trafficDistribution().asks();
        assertThat(now.variants().isEmpty()).as("variants of %s", name).isEqualTo(!asks);
      });
    }
  }

  @Test
  void anUnaskingClusterTranslatesEveryNodeExactlyAsBefore() {
    ClusterState state = SyntheticCluster.build(4, 2, SERVICES);
    for (String node : state.nodes().keySet()) {
      NodeResources fresh = NodeTranslator.translate(state, node, TranslatorOptions.DEFAULTS);
      assertThat(fresh.listeners().keySet()).noneMatch(name -> name.contains("@"));
      assertThat(fresh.clusters().keySet()).noneMatch(name -> name.contains("@"));
    }
  }

  @Test
  void variantsAreCountedByZonesAndNodesAndPassEnvoyValidationWithLongestNames() {
    // the longest zone (63) and node name (253) the model accepts still make resources Envoy accepts
    String zone = "z".repeat(63);
    String node = ("n".repeat(61) + ".").repeat(4) + "n".repeat(5);
    ClusterState state = SyntheticCluster.build(4, 2, SERVICES, TrafficDistributionTranslationTest::asked)
        .toBuilder().putNode(new NodeInfo(node, Optional.of(zone), Optional.empty(), true,
            ImmutableList.of())).build();
    assertThat(state.node(node)).as("a %d-character node name", node.length()).isPresent();
    SharedResources shared = SharedResources.translate(state, TranslatorOptions.DEFAULTS);

    for (ServicePortResources port : shared.byName().values()) {
      TrafficDistribution asked = port.outbound().service().trafficDistribution();
      int expected = asked == TrafficDistribution.PREFER_SAME_ZONE ? 4 // zone-0..2 and the long one
          : asked == TrafficDistribution.PREFER_SAME_NODE ? 5 : 0; // node-0..3 and the long one
      assertThat(port.variants()).as(port.name()).hasSize(expected);
      for (Message resource : port.allResources()) {
        assertThat(EnvoyValidator.violations(resource)).as("PGV of %s", resource).isEmpty();
      }
    }
    assertThat(shared.variants().clusters()).containsKey("svc/apps/svc-0/80@zone/" + zone)
        .containsKey("dst/96.0.0.5/80@node/" + node);
    NodeResources longNode = NodeTranslator.translate(state, node, TranslatorOptions.DEFAULTS);
    assertThat(longNode.listeners()).isEmpty(); // no pod there, but the names exist for when there is
  }

  @Test
  void everyClusterIpIsMatchedByExactlyOneChainOfAnUnscopedPod() {
    for (TranslatorOptions options : ImmutableList.of(TranslatorOptions.DEFAULTS,
        TranslatorOptions.DEFAULTS.withServiceCidrs(ImmutableList.of("96.0.0.0/16")))) {
      ClusterState state = SyntheticCluster.build(4, 2, SERVICES, TrafficDistributionTranslationTest::asked)
          .toBuilder().putNode(NodeInfo.of("node-3", null)).build(); // node-3 loses its zone
      for (String nodeName : state.nodes().keySet()) {
        NodeResources node = NodeTranslator.translate(state, nodeName, options);
        for (Listener listener : node.listeners().values()) {
          if (!listener.getName().startsWith("pod/")) {
            continue;
          }
          Set<String> seen = new HashSet<>();
          for (FilterChain chain : listener.getFilterChainsList()) {
            for (CidrRange range : chain.getFilterChainMatch().getPrefixRangesList()) {
              assertThat(seen.add(range.getAddressPrefix() + "/" + range.getPrefixLen().getValue()))
                  .as("%s on %s: %s in two chains", listener.getName(), nodeName, range.getAddressPrefix()).isTrue();
            }
          }
          boolean zoned = state.node(nodeName).flatMap(NodeInfo::zone).isPresent();
          assertThat(listener.getFilterChainsList()).extracting(FilterChain::getName)
              .contains("services@node/" + nodeName)
              .anyMatch(name -> zoned == name.startsWith("services@zone/"))
              .contains("services");
        }
      }
    }
  }

  private static ImmutableList<ByteString> serialized(ImmutableList<Message> messages) {
    return messages.stream().map(Message::toByteString).collect(ImmutableList.toImmutableList());
  }
}
