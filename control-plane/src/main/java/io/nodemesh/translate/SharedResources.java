package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.TrafficDistribution;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The node-independent resources of a cluster state: every service port's shared cluster, endpoints and
 * route config (resolved by name by node Envoys and proxyless clients alike) and the proxyless listeners.
 * A service that fails to translate is reported in {@code serviceProblems} and left out.
 *
 * @param servicePrefixes what an unscoped pod's {@code services} chain matches ({@link ServiceCidrs#prefixes})
 * @param distributionPrefixes shared binding: the ClusterIPs of the services asking for trafficDistribution, by
 *     what they ask (PREFER_SAME_ZONE, PREFER_SAME_NODE; absent when none asks): an unscoped pod's chains for them
 */
public record SharedResources(
    ImmutableList<OutboundService> allOutbound,
    ImmutableMap<String, ServicePortResources> byName,
    ImmutableSortedMap<ObjectKey, String> serviceProblems,
    ImmutableList<CidrRange> servicePrefixes,
    ImmutableMap<TrafficDistribution, ImmutableList<CidrRange>> distributionPrefixes) {

  public SharedResources {
    distributionPrefixes = distributionPrefixes == null ? ImmutableMap.of() : distributionPrefixes;
  }

  /** The shared resources of these service ports, with the prefixes an unscoped pod's service chain matches. */
  public static SharedResources of(ImmutableList<OutboundService> allOutbound,
      ImmutableMap<String, ServicePortResources> byName, ImmutableSortedMap<ObjectKey, String> serviceProblems,
      TranslatorOptions options) {
    ImmutableMap.Builder<TrafficDistribution, ImmutableList<CidrRange>> distribution = ImmutableMap.builder();
    for (TrafficDistribution asked : TrafficDistribution.values()) {
      ImmutableList<CidrRange> prefixes = ServiceCidrs.askingPrefixes(options, allOutbound, asked);
      if (!prefixes.isEmpty()) {
        distribution.put(asked, prefixes);
      }
    }
    return new SharedResources(allOutbound, byName, serviceProblems, ServiceCidrs.prefixes(options, allOutbound),
        distribution.build());
  }

  /** The same resources with these prefix lists (the pipeline keeps equal lists as one instance). */
  public SharedResources withPrefixes(ImmutableList<CidrRange> services,
      ImmutableMap<TrafficDistribution, ImmutableList<CidrRange>> distribution) {
    return new SharedResources(allOutbound, byName, serviceProblems, services, distribution);
  }

  /** Translates every service of the state. */
  public static SharedResources translate(ClusterState state, TranslatorOptions options) {
    ImmutableMap.Builder<String, ServicePortResources> byName = ImmutableMap.builder();
    TreeMap<ObjectKey, String> problems = new TreeMap<>();
    for (ServiceInfo service : state.services().values()) {
      try {
        for (ServicePortResources port : ServiceTranslator.translate(service, state, options)) {
          byName.put(port.name(), port);
        }
      } catch (RuntimeException e) {
        problems.put(service.key(), "translation failed: " + e);
      }
    }
    ImmutableMap<String, ServicePortResources> ports = byName.buildKeepingLast();
    // a service that failed to translate is out of every pod's scope too: no chain may point at nothing
    ImmutableList<OutboundService> allOutbound =
        ports.values().stream().map(ServicePortResources::outbound).collect(ImmutableList.toImmutableList());
    return of(allOutbound, ports, ImmutableSortedMap.copyOfSorted(problems), options);
  }

  /** The ApiListeners proxyless gRPC clients ask for, trafficDistribution variants ({@code {z}.zone.{svc}...}) included. */
  public ImmutableSortedMap<String, Listener> proxylessListeners() {
    TreeMap<String, Listener> listeners = new TreeMap<>();
    for (ServicePortResources port : byName.values()) {
      port.proxylessListeners().forEach(l -> listeners.put(l.getName(), l));
      port.variants().values().forEach(variant ->
          variant.proxylessListeners().forEach(l -> listeners.put(l.getName(), l)));
    }
    return ImmutableSortedMap.copyOfSorted(listeners);
  }

  /** Every service port's internal listener (shared binding, HTTP ports). */
  public ImmutableSortedMap<String, Listener> internalListeners() {
    TreeMap<String, Listener> listeners = new TreeMap<>();
    for (ServicePortResources port : byName.values()) {
      if (port.internalListener() != null) {
        listeners.put(port.name(), port.internalListener());
      }
    }
    return ImmutableSortedMap.copyOfSorted(listeners);
  }

  /** Every destination cluster ({@code dst/{ip}/{port}}, shared binding). */
  public ImmutableSortedMap<String, Cluster> destinationClusters() {
    TreeMap<String, Cluster> clusters = new TreeMap<>();
    for (ServicePortResources port : byName.values()) {
      port.destinationClusters().forEach(cluster -> clusters.put(cluster.getName(), cluster));
    }
    return ImmutableSortedMap.copyOfSorted(clusters);
  }

  /**
   * Every trafficDistribution variant's resources by name (clusters include the destination ones) that node Envoys
   * get; the variants' ApiListeners are in {@link #proxylessListeners}.
   */
  public VariantCatalogue variants() {
    TreeMap<String, Listener> listeners = new TreeMap<>();
    TreeMap<String, Cluster> clusters = new TreeMap<>();
    TreeMap<String, ClusterLoadAssignment> endpoints = new TreeMap<>();
    TreeMap<String, RouteConfiguration> routes = new TreeMap<>();
    for (ServicePortResources port : byName.values()) {
      for (ServicePortResources.Variant variant : port.variants().values()) {
        clusters.put(variant.cluster().getName(), variant.cluster());
        variant.destinationClusters().forEach(cluster -> clusters.put(cluster.getName(), cluster));
        endpoints.put(variant.endpoints().getClusterName(), variant.endpoints());
        if (variant.routes() != null) {
          routes.put(variant.routes().getName(), variant.routes());
        }
        if (variant.internalListener() != null) {
          listeners.put(variant.internalListener().getName(), variant.internalListener());
        }
      }
    }
    return new VariantCatalogue(ImmutableSortedMap.copyOfSorted(listeners), ImmutableSortedMap.copyOfSorted(clusters),
        ImmutableSortedMap.copyOfSorted(endpoints), ImmutableSortedMap.copyOfSorted(routes));
  }

  /** The resources of every variant, by type and name. */
  public record VariantCatalogue(ImmutableSortedMap<String, Listener> listeners,
      ImmutableSortedMap<String, Cluster> clusters, ImmutableSortedMap<String, ClusterLoadAssignment> endpoints,
      ImmutableSortedMap<String, RouteConfiguration> routes) {}

  public ImmutableSortedMap<String, Cluster> clusters() {
    return collect(ServicePortResources::cluster);
  }

  public ImmutableSortedMap<String, ClusterLoadAssignment> endpoints() {
    return collect(ServicePortResources::endpoints);
  }

  public ImmutableSortedMap<String, RouteConfiguration> routes() {
    return collect(ServicePortResources::routes);
  }

  private <T> ImmutableSortedMap<String, T> collect(Function<ServicePortResources, T> part) {
    ImmutableSortedMap.Builder<String, T> parts = ImmutableSortedMap.naturalOrder();
    byName.forEach((name, resources) -> parts.put(name, part.apply(resources)));
    return parts.build();
  }
}
