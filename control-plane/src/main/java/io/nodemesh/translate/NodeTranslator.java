package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Assembles a node's snapshot from its meshed pods and the shared service-port resources they call. One pod
 * that fails to translate is reported and left out; it never takes other pods' config with it.
 */
public final class NodeTranslator {

  private NodeTranslator() {}

  /** The snapshot of {@code nodeName}, computing the shared service-port resources it needs on the way. */
  public static NodeResources translate(ClusterState state, String nodeName, TranslatorOptions options) {
    return translate(state, nodeName, options, SharedResources.translate(state, options));
  }

  /** The snapshot of {@code nodeName} using shared resources already computed for this state. */
  public static NodeResources translate(
      ClusterState state, String nodeName, TranslatorOptions options, SharedResources shared) {
    TreeMap<String, Listener> listeners = new TreeMap<>();
    TreeMap<String, Cluster> clusters = new TreeMap<>();
    TreeMap<String, ClusterLoadAssignment> endpoints = new TreeMap<>();
    TreeMap<String, RouteConfiguration> routes = new TreeMap<>();
    TreeMap<ObjectKey, String> problems = new TreeMap<>();
    for (PodInfo pod : state.podsOnNode(nodeName)) {
      Optional<PodResources> translated;
      try {
        translated = PodTranslator.translate(pod, shared.allOutbound(), options);
      } catch (RuntimeException e) {
        problems.put(pod.key(), "translation failed: " + e);
        continue;
      }
      if (translated.isEmpty()) {
        continue;
      }
      PodResources resources = translated.get();
      if (!resources.problems().isEmpty()) {
        problems.put(pod.key(), String.join("; ", resources.problems()));
      }
      listeners.put(resources.listener().getName(), resources.listener());
      clusters.putAll(resources.podClusters());
      forEachSharedPort(resources.scope(), shared, options, (service, withCluster, withRoute) -> {
        endpoints.put(service.name(), service.endpoints());
        if (withCluster) {
          clusters.put(service.name(), service.cluster());
        }
        if (withRoute) {
          routes.put(service.name(), service.routes());
        }
      });
    }
    if (!listeners.isEmpty()) {
      nodeClusters(options).forEach(cluster -> clusters.put(cluster.getName(), cluster));
    }
    return new NodeResources(
        nodeName,
        ImmutableSortedMap.copyOfSorted(listeners),
        ImmutableSortedMap.copyOfSorted(clusters),
        ImmutableSortedMap.copyOfSorted(endpoints),
        ImmutableSortedMap.copyOfSorted(routes),
        ImmutableSortedMap.copyOfSorted(problems));
  }

  /** Receives the shared service ports a pod's scope brings into its node. */
  @FunctionalInterface
  public interface SharedPortVisitor {
    /**
     * @param withCluster the node gets the shared cluster too (shared binding)
     * @param withRoute the node gets the shared route config too (shared binding, HTTP port)
     */
    void visit(ServicePortResources service, boolean withCluster, boolean withRoute);
  }

  /**
   * The shared resources a pod with this scope brings into its node: every scoped service port's endpoints,
   * and in shared binding its cluster and (HTTP ports) its route config. Ports whose service failed to
   * translate are skipped (SharedResources reported them).
   */
  public static void forEachSharedPort(ImmutableList<OutboundService> scope, SharedResources shared,
      TranslatorOptions options, SharedPortVisitor visitor) {
    ImmutableMap<String, ServicePortResources> byName = shared.byName();
    boolean sharedBinding = options.upstreamBinding() == UpstreamBinding.SHARED;
    for (OutboundService outbound : scope) {
      ServicePortResources service = byName.get(outbound.sharedName());
      if (service != null) {
        visitor.visit(service, sharedBinding, sharedBinding && outbound.protocol().http());
      }
    }
  }

  /** The clusters of every node that has at least one pod listener: blackhole, and in shared mode passthrough. */
  public static ImmutableList<Cluster> nodeClusters(TranslatorOptions options) {
    return options.upstreamBinding() == UpstreamBinding.SHARED
        ? ImmutableList.of(ClusterTranslator.blackhole(options), ClusterTranslator.sharedPassthrough(options))
        : ImmutableList.of(ClusterTranslator.blackhole(options));
  }

  /** Convenience for callers that translate many nodes of one state. */
  public static ImmutableList<NodeResources> translateAll(ClusterState state, TranslatorOptions options) {
    SharedResources shared = SharedResources.translate(state, options);
    ImmutableList.Builder<NodeResources> all = ImmutableList.builder();
    for (String node : state.nodes().keySet()) {
      all.add(translate(state, node, options, shared));
    }
    return all.build();
  }
}
