package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.nodemesh.model.TrafficDistribution;

/**
 * What a pod listener's service chains depend on beyond the pod and its scope (the pipeline caches listeners by it).
 *
 * @param services what an unscoped pod's {@code services} chain matches ({@link SharedResources#servicePrefixes})
 * @param distribution the ClusterIPs of services asking for trafficDistribution ({@link
 *     SharedResources#distributionPrefixes}); empty for scoped pods, whose chains are per service port
 * @param where the pod's node and zone, which name the variants its chains pick; {@link NodeLocality#NONE} when
 *     no service asks, so zone changes then retranslate nothing
 */
public record ServiceMatch(ImmutableList<CidrRange> services,
    ImmutableMap<TrafficDistribution, ImmutableList<CidrRange>> distribution, NodeLocality where) {

  /** No service chain (per-pod binding and tests). */
  public static final ServiceMatch NONE = new ServiceMatch(ImmutableList.of(), ImmutableMap.of(), NodeLocality.NONE);

  /** What a pod of this node, scoped or not, matches against the service layer {@code shared}. */
  public static ServiceMatch of(SharedResources shared, boolean scoped, NodeLocality where) {
    NodeLocality relevant = shared.distributionPrefixes().isEmpty() ? NodeLocality.NONE : where;
    return scoped ? new ServiceMatch(ImmutableList.of(), ImmutableMap.of(), relevant)
        : new ServiceMatch(shared.servicePrefixes(), shared.distributionPrefixes(), relevant);
  }
}
