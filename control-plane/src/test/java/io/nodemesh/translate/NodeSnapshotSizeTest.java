package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.nodemesh.model.ClusterState;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Reports how many resources and serialized bytes one node with 30 pods produces when the cluster has 100
 * services of 3 ports each, in both binding modes (the numbers quoted in docs/TRANSLATOR.md). The counts are
 * asserted; the byte sizes are printed, not asserted.
 */
class NodeSnapshotSizeTest {

  @Test
  void oneNodeWithThirtyPodsAndAHundredServices() {
    ClusterState state = SyntheticCluster.build(10, 30, 100);
    for (UpstreamBinding binding : UpstreamBinding.values()) {
      NodeResources node =
          NodeTranslator.translate(state, "node-3", TranslatorOptions.DEFAULTS.withUpstreamBinding(binding));
      long listenerBytes = bytes(node.listeners());
      long clusterBytes = bytes(node.clusters());
      long endpointBytes = bytes(node.endpoints());
      long routeBytes = bytes(node.routes());
      System.out.printf(
          "[size] %s: %d listeners (%,d B), %d clusters (%,d B), %d endpoints (%,d B), %d routes (%,d B);"
              + " %d resources, %,d B in all%n",
          binding, node.listeners().size(), listenerBytes, node.clusters().size(), clusterBytes,
          node.endpoints().size(), endpointBytes, node.routes().size(), routeBytes, node.resourceCount(),
          listenerBytes + clusterBytes + endpointBytes + routeBytes);
      assertThat(node.listeners()).hasSize(30);
      assertThat(node.endpoints()).hasSize(300);
      if (binding == UpstreamBinding.SHARED) {
        assertThat(node.clusters()).hasSize(300 + 2);
        assertThat(node.routes()).hasSize(200);
      } else {
        assertThat(node.clusters()).hasSize(30 * (300 + 1) + 1);
        assertThat(node.routes()).isEmpty();
      }
    }
  }

  private static long bytes(Map<String, ? extends Message> resources) {
    long total = 0;
    for (Message message : ImmutableList.copyOf(resources.values())) {
      total += Any.pack(message).getSerializedSize();
    }
    return total;
  }
}
