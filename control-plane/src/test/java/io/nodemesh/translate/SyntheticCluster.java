package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import java.util.Optional;
import java.util.function.IntFunction;

/** Generates a regular cluster (nodes x pods per node, services x 3 ports with endpoints) for tests. */
final class SyntheticCluster {

  private SyntheticCluster() {}

  static ClusterState build(int nodes, int podsPerNode, int services) {
    return build(nodes, podsPerNode, services, s -> TrafficDistribution.NONE);
  }

  /** The same cluster with service {@code s} asking for {@code distribution.apply(s)}. */
  static ClusterState build(int nodes, int podsPerNode, int services, IntFunction<TrafficDistribution> distribution) {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS);
    builder.putNamespace(new NamespaceInfo("apps", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")));
    for (int n = 0; n < nodes; n++) {
      builder.putNode(NodeInfo.of("node-" + n, "zone-" + (n % 3)));
      for (int p = 0; p < podsPerNode; p++) {
        int index = n * podsPerNode + p;
        builder.putPod(new PodInfo(
            String.format("00000000-0000-0000-0000-%012d", index), "apps", "pod-" + index,
            Optional.of("node-" + n), ImmutableList.of(ip(10, index)), PodPhase.RUNNING, false, false,
            null, null, null));
      }
    }
    int totalPods = nodes * podsPerNode;
    for (int s = 0; s < services; s++) {
      builder.putService(new ServiceInfo("apps", "svc-" + s, ImmutableList.of(ip(96, s)),
          ImmutableList.of(
              new ServicePort("grpc", 50051, "50051", Protocol.TCP, Optional.empty()),
              new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty()),
              new ServicePort("tcp-admin", 9000, "9000", Protocol.TCP, Optional.empty())),
          null, distribution.apply(s)));
      ImmutableList.Builder<EndpointInfo> endpoints = ImmutableList.builder();
      for (int e = 0; e < 3 && totalPods > 0; e++) {
        int pod = (s * 3 + e) % totalPods;
        endpoints.add(new EndpointInfo(ImmutableList.of(ip(10, pod)), true, true, false,
            Optional.of("node-" + pod / Math.max(1, podsPerNode)), Optional.empty(),
            Optional.of(ObjectKey.of("apps", "pod-" + pod))));
      }
      builder.putEndpointSlice(new EndpointSliceInfo("apps", "svc-" + s + "-abcde", "svc-" + s, AddressType.IPV4,
          ImmutableList.of(
              new EndpointPort("grpc", 50051, Protocol.TCP, Optional.empty()),
              new EndpointPort("http", 8080, Protocol.TCP, Optional.empty()),
              new EndpointPort("tcp-admin", 9000, Protocol.TCP, Optional.empty())),
          endpoints.build()));
    }
    return builder.build();
  }

  private static String ip(int first, int index) {
    return first + "." + (index >> 16 & 0xff) + "." + (index >> 8 & 0xff) + "." + (index & 0xff);
  }
}
