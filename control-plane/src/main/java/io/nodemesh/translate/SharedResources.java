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
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The node-independent resources of a cluster state: every service port's shared cluster, endpoints and
 * route config (resolved by name by node Envoys and proxyless clients alike) and the proxyless listeners.
 * A service that fails to translate is reported in {@code serviceProblems} and left out.
 */
public record SharedResources(
    ImmutableList<OutboundService> allOutbound,
    ImmutableMap<String, ServicePortResources> byName,
    ImmutableSortedMap<ObjectKey, String> serviceProblems,
    ImmutableList<CidrRange> servicePrefixes) {

  /** The shared resources of these service ports, with the prefixes an unscoped pod's service chain matches. */
  public static SharedResources of(ImmutableList<OutboundService> allOutbound,
      ImmutableMap<String, ServicePortResources> byName, ImmutableSortedMap<ObjectKey, String> serviceProblems,
      TranslatorOptions options) {
    return new SharedResources(allOutbound, byName, serviceProblems, ServiceCidrs.prefixes(options, allOutbound));
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

  public ImmutableSortedMap<String, Listener> proxylessListeners() {
    TreeMap<String, Listener> listeners = new TreeMap<>();
    for (ServicePortResources port : byName.values()) {
      port.proxylessListeners().forEach(l -> listeners.put(l.getName(), l));
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
