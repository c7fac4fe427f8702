package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.PodInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A node's snapshot from scratch: its meshed pods translated, assembled with the service layer by
 * {@link NodeAssembler} (as the pipeline does), and the named resources filled in. One pod that fails to
 * translate is reported and left out; it never takes other pods' config with it.
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
    return translate(state, nodeName, options, shared, new NodeAssembler(shared, options), new Catalogue(shared));
  }

  /** The service layer's resources by name, looked up for every node. */
  private record Catalogue(Map<String, Listener> listeners, Map<String, Cluster> clusters,
      Map<String, ClusterLoadAssignment> endpoints, Map<String, RouteConfiguration> routes) {
    Catalogue(SharedResources shared) {
      this(shared, shared.variants());
    }

    Catalogue(SharedResources shared, SharedResources.VariantCatalogue variants) {
      this(merged(shared.internalListeners(), variants.listeners()),
          merged(shared.clusters(), shared.destinationClusters(), variants.clusters()),
          merged(shared.endpoints(), variants.endpoints()), merged(shared.routes(), variants.routes()));
    }

    @SafeVarargs
    private static <T> Map<String, T> merged(Map<String, T>... parts) {
      Map<String, T> all = new HashMap<>();
      for (Map<String, T> part : parts) {
        all.putAll(part);
      }
      return all;
    }
  }

  private static NodeResources translate(ClusterState state, String nodeName, TranslatorOptions options,
      SharedResources shared, NodeAssembler assembler, Catalogue catalogue) {
    List<NodeAssembler.PodPart> parts = new ArrayList<>();
    NodeLocality where = NodeLocality.of(state, nodeName);
    Map<String, Listener> podListeners = new HashMap<>();
    Map<String, Cluster> podClusters = new HashMap<>();
    for (PodInfo pod : state.podsOnNode(nodeName)) {
      Optional<PodResources> translated;
      try {
        translated = PodTranslator.translate(pod, shared, where, options);
      } catch (RuntimeException e) {
        parts.add(NodeAssembler.PodPart.failed(pod.key(), "translation failed: " + e));
        continue;
      }
      if (translated.isEmpty()) {
        continue;
      }
      PodResources resources = translated.get();
      podListeners.put(resources.listener().getName(), resources.listener());
      podClusters.putAll(resources.podClusters());
      parts.add(new NodeAssembler.PodPart(pod.key(), resources.listener().getName(),
          resources.podClusters().keySet().asList(), resources.scope(), resources.problems(), null));
    }
    NodeAssembler.Assembled assembled = assembler.assemble(parts, null, where);
    NodeAssembler.nodeClusters(options).forEach(cluster -> podClusters.put(cluster.getName(), cluster));
    NodeNames names = assembled.names();
    return new NodeResources(
        nodeName,
        pick(names.listeners(), podListeners, catalogue.listeners()),
        pick(names.clusters(), podClusters, catalogue.clusters()),
        pick(names.endpoints(), Map.of(), catalogue.endpoints()),
        pick(names.routes(), Map.of(), catalogue.routes()),
        assembled.problems());
  }

  private static <T extends Message> ImmutableSortedMap<String, T> pick(
      Set<String> names, Map<String, T> own, Map<String, T> shared) {
    ImmutableSortedMap.Builder<String, T> picked = ImmutableSortedMap.naturalOrder();
    for (String name : names) {
      T resource = own.containsKey(name) ? own.get(name) : shared.get(name);
      if (resource == null) {
        throw new IllegalStateException("the node names " + name + ", which nothing translated");
      }
      picked.put(name, resource);
    }
    return picked.build();
  }

  /** Convenience for callers that translate many nodes of one state. */
  public static ImmutableList<NodeResources> translateAll(ClusterState state, TranslatorOptions options) {
    SharedResources shared = SharedResources.translate(state, options);
    NodeAssembler assembler = new NodeAssembler(shared, options);
    Catalogue catalogue = new Catalogue(shared);
    ImmutableList.Builder<NodeResources> all = ImmutableList.builder();
    for (String node : state.nodes().keySet()) {
      all.add(translate(state, node, options, shared, assembler, catalogue));
    }
    return all.build();
  }
}
