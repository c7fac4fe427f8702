package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.nodemesh.model.PodInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Builds one meshed pod's listener and, in per-pod mode, its own clusters. */
public final class PodTranslator {

  private PodTranslator() {}

  /** The pod's resources, or empty when the pod is not meshed (its {@code MeshStatus} says why). */
  public static Optional<PodResources> translate(
      PodInfo pod, SharedResources shared, NodeLocality where, TranslatorOptions options) {
    if (!translatable(pod)) {
      return Optional.empty();
    }
    List<String> problems = new ArrayList<>();
    ImmutableList<OutboundService> scope = UpstreamScope.forPod(pod, shared.allOutbound(), problems::add);
    ServiceMatch match = ServiceMatch.of(shared, UpstreamScope.scoped(pod), where);
    return Optional.of(translate(pod, scope, match, problems, options));
  }

  /** Whether the pod gets resources at all: meshed, with a validated netns path and an IP. */
  public static boolean translatable(PodInfo pod) {
    return pod.mesh().meshed() && pod.mesh().netnsPath().isPresent() && !pod.ips().isEmpty();
  }

  /**
   * The resources of a {@link #translatable} pod whose scope is already known ({@link UpstreamScope}), with the
   * problems found while scoping it.
   *
   * @param match what the pod's service chains match and where it is ({@link ServiceMatch#of})
   */
  public static PodResources translate(PodInfo pod, ImmutableList<OutboundService> scope,
      ServiceMatch match, List<String> problems, TranslatorOptions options) {
    String netns = pod.mesh().netnsPath().orElseThrow();
    List<String> allProblems = new ArrayList<>(problems);
    PodLimits limits = PodLimits.forPod(pod, options.podLimits(), allProblems::add);
    ImmutableSortedMap.Builder<String, Cluster> podClusters = ImmutableSortedMap.naturalOrder();
    if (options.upstreamBinding() == UpstreamBinding.PER_POD) {
      Cluster passthrough = ClusterTranslator.perPodPassthrough(pod, netns, options);
      podClusters.put(passthrough.getName(), passthrough);
      for (OutboundService outbound : scope) {
        Cluster cluster = ClusterTranslator.perPodServiceCluster(pod, netns, outbound, options);
        podClusters.put(cluster.getName(), cluster);
      }
    }
    return new PodResources(
        pod.key(),
        ListenerTranslator.outboundListener(pod, netns, scope, UpstreamScope.scoped(pod), match, limits,
            options),
        podClusters.build(),
        scope,
        ImmutableList.copyOf(allProblems));
  }
}
