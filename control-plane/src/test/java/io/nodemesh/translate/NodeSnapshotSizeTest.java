package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.TrafficDistribution;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * How one node with 30 pods grows with the service catalogue (100 / 300 / 1,000 services x 3 ports), in the
 * layouts docs/TRANSLATOR.md compares: the service layer with the service CIDRs configured (production), the
 * same without them (every pod listener lists every ClusterIP), and per-pod binding (100 services only: it is
 * O(pods x ports)). Counts that define the layout are asserted; bytes are printed, never asserted.
 */
class NodeSnapshotSizeTest {

  private static final int PODS = 30;
  private static final TranslatorOptions WITH_CIDRS =
      TranslatorOptions.DEFAULTS.withServiceCidrs(ImmutableList.of("10.96.0.0/16"));

  @Test
  void aNodesConfigGrowsWithItsPodsPlusTheCatalogueNotTheirProduct() {
    System.out.println(
        "[size] layout | services | pod listener | node LDS | filter chains | CDS+EDS+RDS | all | a service add pushes");
    for (int services : new int[] {100, 300, 1000}) {
      NodeResources node = report("service layer, CIDRs", services, WITH_CIDRS);
      int servicePorts = services * 3;
      int httpPorts = services * 2;
      assertThat(node.listeners()).hasSize(PODS + httpPorts);
      assertThat(node.clusters()).hasSize(servicePorts + httpPorts + 2);
      assertThat(node.endpoints()).hasSize(servicePorts);
      assertThat(node.routes()).hasSize(httpPorts);
      assertThat(filterChains(node)).isEqualTo(PODS * 2 + httpPorts);
      report("service layer, no CIDRs", services, TranslatorOptions.DEFAULTS);
    }
    // issue 20: what both per-pod limits add to a node (every pod limited), for docs/FAIRNESS.md
    report("service layer, CIDRs, pod limits", 1000, WITH_CIDRS.withPodLimits(new PodLimits(1000, 100)));
    report("service layer, CIDRs, pod limits and request rate", 1000,
        WITH_CIDRS.withPodLimits(new PodLimits(1000, 100)).withRequestRatePerConnection(100));
    NodeResources perPod =
        report("per-pod binding", 100, TranslatorOptions.DEFAULTS.withUpstreamBinding(UpstreamBinding.PER_POD));
    assertThat(perPod.clusters()).hasSize(PODS * (300 + 1) + 1);
    assertThat(filterChains(perPod)).isEqualTo(PODS * (300 + 1));
  }

  /**
   * trafficDistribution: 1,000 services (3 ports), 10 % PreferClose, 4 nodes in 3 zones, CIDRs set. Variants are
   * O(zones) per asking port in the store; a node holds the variant for its zone instead of the base names, so
   * its config grows by the pod listener's extra chain and slightly longer names only. Printed, and bounded.
   */
  @Test
  void trafficDistributionCostsZonesPerAskingPortInTheStoreAndAboutNothingPerNode() {
    int services = 1000;
    ClusterState none = SyntheticCluster.build(4, PODS, services);
    ClusterState asking = SyntheticCluster.build(4, PODS, services,
        s -> s % 10 == 0 ? TrafficDistribution.PREFER_SAME_ZONE : TrafficDistribution.NONE);
    ClusterState sameNode = SyntheticCluster.build(4, PODS, services,
        s -> s % 10 == 0 ? TrafficDistribution.PREFER_SAME_NODE : TrafficDistribution.NONE);
    System.out.println("[size] trafficDistribution | node resources | node bytes | pod listener | store resources"
        + " | store bytes");
    long[] base = distributionReport("none asks", none);
    long[] zone = distributionReport("10 % PreferClose", asking);
    long[] node = distributionReport("10 % PreferSameNode", sameNode);
    // the node swaps base names for its variants: the same number of resources
    assertThat(zone[0]).isEqualTo(base[0]);
    assertThat(node[0]).isEqualTo(base[0]);
    // the store: per asking port (300), one variant per zone (3) of EDS, cluster and dst, plus internal listener,
    // routes and the two proxyless ApiListeners for the 200 HTTP ports
    assertThat(zone[3] - base[3]).isEqualTo(3L * (300 * 3 + 200 * 4));
    assertThat(node[3] - base[3]).isEqualTo(4L * (300 * 3 + 200 * 4));
  }

  /** {node resources, node bytes, pod listener bytes, store resources, store bytes}, printed. */
  private static long[] distributionReport(String layout, ClusterState state) {
    SharedResources shared = SharedResources.translate(state, WITH_CIDRS);
    NodeResources node = NodeTranslator.translate(state, "node-1", WITH_CIDRS, shared);
    long podListener = node.listeners().values().stream().filter(l -> l.getName().startsWith("pod/"))
        .mapToLong(l -> Any.pack(l).getSerializedSize()).max().orElse(0);
    long nodeBytes = bytes(node.listeners()) + bytes(node.clusters()) + bytes(node.endpoints()) + bytes(node.routes());
    SharedResources.VariantCatalogue variants = shared.variants();
    long storeResources = shared.byName().values().stream().mapToLong(port -> port.allResources().size()).sum();
    long storeBytes = shared.byName().values().stream()
        .flatMap(port -> port.allResources().stream()).mapToLong(m -> Any.pack(m).getSerializedSize()).sum();
    System.out.printf("[size] %s | %,d | %,d B | %,d B | %,d (%,d variants) | %,d B%n", layout, node.resourceCount(),
        nodeBytes, podListener, storeResources, variants.listeners().size() + variants.clusters().size()
            + variants.endpoints().size() + variants.routes().size(), storeBytes);
    return new long[] {node.resourceCount(), nodeBytes, podListener, storeResources, storeBytes};
  }

  private static NodeResources report(String layout, int services, TranslatorOptions options) {
    ClusterState state = SyntheticCluster.build(4, PODS, services);
    NodeResources node = NodeTranslator.translate(state, "node-1", options);
    NodeResources oneMore = NodeTranslator.translate(SyntheticCluster.build(4, PODS, services + 1), "node-1", options);
    long podListener = node.listeners().values().stream().filter(l -> l.getName().startsWith("pod/"))
        .mapToLong(l -> Any.pack(l).getSerializedSize()).max().orElse(0);
    long lds = bytes(node.listeners());
    long others = bytes(node.clusters()) + bytes(node.endpoints()) + bytes(node.routes());
    long serviceAdd = changed(node.listeners(), oneMore.listeners()) + changed(node.clusters(), oneMore.clusters())
        + changed(node.endpoints(), oneMore.endpoints()) + changed(node.routes(), oneMore.routes());
    System.out.printf("[size] %s | %,d | %,d B | %,d B | %,d | %,d B | %,d B | %,d B%n", layout, services, podListener,
        lds, filterChains(node), others, lds + others, serviceAdd);
    return node;
  }

  /** Bytes of the resources of {@code after} that are new or differ from {@code before}: what a push carries. */
  private static long changed(Map<String, ? extends Message> before, Map<String, ? extends Message> after) {
    long total = 0;
    for (Map.Entry<String, ? extends Message> resource : after.entrySet()) {
      if (!resource.getValue().equals(before.get(resource.getKey()))) {
        total += Any.pack(resource.getValue()).getSerializedSize();
      }
    }
    return total;
  }

  private static int filterChains(NodeResources node) {
    return node.listeners().values().stream().mapToInt(Listener::getFilterChainsCount).sum();
  }

  private static long bytes(Map<String, ? extends Message> resources) {
    long total = 0;
    for (Message message : ImmutableList.copyOf(resources.values())) {
      total += Any.pack(message).getSerializedSize();
    }
    return total;
  }
}
