package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.TrafficDistribution;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Assembles a node's view (the names of its resources by type, and its pods' problems) from its pods'
 * translations and the service layer. The one place this happens: the pipeline that serves Envoys and
 * {@link NodeTranslator} (golden files, benchmarks) both call it, so the golden files test what ships.
 * One per {@link SharedResources}; not thread-safe (it remembers the names each distinct scope brings, and
 * every unscoped pod of every node shares one scope).
 */
public final class NodeAssembler {

  /**
   * One pod's part of its node: the names of its own resources, the service ports it calls, and its problems;
   * or only why it failed to translate ({@code failure} not null), which leaves it out.
   */
  public record PodPart(ObjectKey pod, String listener, ImmutableList<String> podClusters,
      ImmutableList<OutboundService> scope, ImmutableList<String> problems, String failure) {

    /** A pod that failed to translate. */
    public static PodPart failed(ObjectKey pod, String failure) {
      return new PodPart(pod, null, ImmutableList.of(), ImmutableList.of(), ImmutableList.of(), failure);
    }
  }

  /** A node's names and the problems of its pods. */
  public record Assembled(NodeNames names, ImmutableSortedMap<ObjectKey, String> problems) {}

  /**
   * Distinct scopes remembered at most. Scopes are per annotation (UpstreamScope.Index shares one list per
   * annotation), and an assembler lives until the next service change; past this the memo starts over rather
   * than grow with annotation churn.
   */
  private static final int MAX_SCOPES = 100_000;

  private final SharedResources shared;
  private final ImmutableList<String> nodeClusterNames;
  /**
   * The service layer each distinct scope brings, one instance per (scope, proximity key): nodes share it. The key
   * is "" when no service of the scope asks for trafficDistribution, the zone when only PreferSameZone ones do,
   * the node when a PreferSameNode one does: O(scopes x zones) layers, O(nodes) only with PreferSameNode.
   */
  private final Map<ImmutableList<OutboundService>, ScopeLayers> byScope = new IdentityHashMap<>();
  private int layers;

  /** What a scope's services ask for (decided once per scope) and its layers by proximity key. */
  private static final class ScopeLayers {
    final boolean zoneAsks;
    final boolean nodeAsks;
    final Map<String, NamesByType> byKey = new HashMap<>();

    ScopeLayers(ImmutableList<OutboundService> scope) {
      boolean zone = false;
      boolean node = false;
      for (OutboundService outbound : scope) {
        zone |= outbound.service().trafficDistribution() == TrafficDistribution.PREFER_SAME_ZONE;
        node |= outbound.service().trafficDistribution() == TrafficDistribution.PREFER_SAME_NODE;
      }
      zoneAsks = zone;
      nodeAsks = node;
    }

    /** What of {@code where} this scope's layer depends on. */
    String key(NodeLocality where) {
      if (nodeAsks && where.node().isPresent()) {
        return "node/" + where.node().get();
      }
      return (zoneAsks || nodeAsks) && where.zone().isPresent() ? "zone/" + where.zone().get() : "";
    }
  }

  public NodeAssembler(SharedResources shared, TranslatorOptions options) {
    this.shared = shared;
    this.nodeClusterNames = nodeClusters(options).stream().map(Cluster::getName).collect(ImmutableList.toImmutableList());
  }

  /**
   * The node's view from its pods' parts, in pod order. Costs O(pods) plus, only for a node whose pods are all
   * scoped to different services, the size of their scopes: the service layer of a node with an unscoped pod
   * is the catalogue's, built once per assembler and shared by every such node.
   *
   * @param previous the node's names before, or null: parts equal to the previous ones are reused, so an
   *     unchanged node compares by identity
   * @param where the node and its zone: services asking for trafficDistribution bring their variants for it
   */
  public Assembled assemble(List<PodPart> pods, NodeNames previous, NodeLocality where) {
    Set<String> listeners = new HashSet<>();
    Set<String> clusters = new HashSet<>();
    TreeMap<ObjectKey, String> problems = new TreeMap<>();
    Set<ImmutableList<OutboundService>> scopes = Collections.newSetFromMap(new IdentityHashMap<>());
    for (PodPart pod : pods) {
      if (pod.failure() != null) {
        problems.put(pod.pod(), pod.failure());
        continue;
      }
      if (!pod.problems().isEmpty()) {
        problems.put(pod.pod(), String.join("; ", pod.problems()));
      }
      listeners.add(pod.listener());
      clusters.addAll(pod.podClusters());
      scopes.add(pod.scope());
    }
    if (!listeners.isEmpty()) {
      clusters.addAll(nodeClusterNames);
    }
    NamesByType before = previous == null ? NamesByType.EMPTY : previous.own();
    NamesByType own = new NamesByType(sorted(listeners, before.listeners()), sorted(clusters, before.clusters()),
        ImmutableSet.of(), ImmutableSet.of());
    NamesByType layer = serviceLayer(scopes, where);
    if (previous != null) {
      own = own.equals(previous.own()) ? previous.own() : own;
      layer = layer.equals(previous.serviceLayer()) ? previous.serviceLayer() : layer;
    }
    NodeNames names = previous != null && own == previous.own() && layer == previous.serviceLayer()
        ? previous : new NodeNames(own, layer);
    return new Assembled(names, ImmutableSortedMap.copyOfSorted(problems));
  }

  /**
   * The service layer of a node whose pods call these scopes. Every scope is a sub-list of the catalogue, so a
   * scope as long as the catalogue (an unscoped pod's) covers all others: its layer is the node's.
   */
  private NamesByType serviceLayer(Set<ImmutableList<OutboundService>> scopes, NodeLocality where) {
    if (scopes.isEmpty()) {
      return NamesByType.EMPTY;
    }
    for (ImmutableList<OutboundService> scope : scopes) {
      if (scopes.size() == 1 || scope.size() == shared.allOutbound().size()) {
        return layerOf(scope, where);
      }
    }
    Set<String> listeners = new HashSet<>();
    Set<String> clusters = new HashSet<>();
    Set<String> endpoints = new HashSet<>();
    Set<String> routes = new HashSet<>();
    for (ImmutableList<OutboundService> scope : scopes) {
      NamesByType layer = layerOf(scope, where);
      listeners.addAll(layer.listeners());
      clusters.addAll(layer.clusters());
      endpoints.addAll(layer.endpoints());
      routes.addAll(layer.routes());
    }
    return new NamesByType(sorted(listeners, null), sorted(clusters, null), sorted(endpoints, null),
        sorted(routes, null));
  }

  private NamesByType layerOf(ImmutableList<OutboundService> scope, NodeLocality where) {
    ScopeLayers scopeLayers = byScope.get(scope);
    if (scopeLayers == null) {
      scopeLayers = new ScopeLayers(scope);
      byScope.put(scope, scopeLayers);
    }
    String key = scopeLayers.key(where);
    NamesByType layer = scopeLayers.byKey.get(key);
    if (layer == null) {
      if (layers >= MAX_SCOPES) {
        byScope.clear();
        layers = 0;
        scopeLayers = new ScopeLayers(scope);
        byScope.put(scope, scopeLayers);
      }
      layer = scopeNames(scope, where);
      scopeLayers.byKey.put(key, layer);
      layers++;
    }
    return layer;
  }

  /**
   * The service layer a scope brings: every port's endpoints; in shared binding its destination clusters and,
   * for ports reached through an internal listener, that listener, the shared cluster, the route config and the
   * clusters and endpoints of the service ports its routes send to.
   * Per-pod binding: endpoints only (the pod's own clusters and inlined routes come with the pod). Ports whose
   * service failed to translate are skipped (SharedResources reported them).
   */
  private NamesByType scopeNames(ImmutableList<OutboundService> scope, NodeLocality where) {
    Set<String> listeners = new HashSet<>();
    Set<String> clusters = new HashSet<>();
    Set<String> endpoints = new HashSet<>();
    Set<String> routes = new HashSet<>();
    for (OutboundService outbound : scope) {
      ServicePortResources port = shared.byName().get(outbound.sharedName());
      if (port == null) {
        continue;
      }
      ServicePortResources.Variant variant = Proximity.of(outbound.service().trafficDistribution(), where)
          .map(proximity -> port.variants().get(proximity.suffix())).orElse(null);
      if (variant != null) {
        // the pod listener's chain for this service names the variant: its names replace the base ones
        endpoints.add(variant.endpoints().getClusterName());
        variant.destinationClusters().forEach(cluster -> clusters.add(cluster.getName()));
        if (variant.internalListener() != null) {
          listeners.add(variant.internalListener().getName());
          clusters.add(variant.name());
          routes.add(variant.routes().getName());
          addBackends(variant.routeBackends(), clusters, endpoints);
        }
        continue;
      }
      endpoints.add(port.name());
      port.destinationClusters().forEach(cluster -> clusters.add(cluster.getName()));
      if (port.viaInternalListener()) {
        listeners.add(port.name());
        clusters.add(port.name());
        routes.add(port.name());
        addBackends(port.routeBackends(), clusters, endpoints);
      }
    }
    return new NamesByType(sorted(listeners, null), sorted(clusters, null), sorted(endpoints, null),
        sorted(routes, null));
  }

  /**
   * The clusters and endpoints of the route backends (base names, or variants of asking services) that exist: a
   * backend that failed to translate, or has no such variant, is left out as the route's unresolved share.
   */
  private void addBackends(List<String> backends, Set<String> clusters, Set<String> endpoints) {
    for (String backend : backends) {
      String base = ResourceNames.baseOf(backend);
      ServicePortResources port = shared.byName().get(base);
      if (port != null && (base.equals(backend) || port.variants().containsKey(backend.substring(base.length())))) {
        clusters.add(backend);
        endpoints.add(backend);
      }
    }
  }

  /** The clusters of every node that has at least one pod listener: blackhole, and in shared mode passthrough. */
  public static ImmutableList<Cluster> nodeClusters(TranslatorOptions options) {
    return options.upstreamBinding() == UpstreamBinding.SHARED
        ? ImmutableList.of(ClusterTranslator.blackhole(options), ClusterTranslator.sharedPassthrough(options))
        : ImmutableList.of(ClusterTranslator.blackhole(options));
  }

  /** The names, sorted; the previous set when equal (content changes rarely change a node's names). */
  private static ImmutableSet<String> sorted(Set<String> names, ImmutableSet<String> previous) {
    if (previous != null && previous.size() == names.size() && previous.containsAll(names)) {
      return previous;
    }
    String[] array = names.toArray(new String[0]);
    Arrays.sort(array);
    return ImmutableSet.copyOf(array);
  }
}
