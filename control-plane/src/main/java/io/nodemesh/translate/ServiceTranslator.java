package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/** Builds the node-independent resources of every TCP port of a service with a cluster IP, service layer included. */
public final class ServiceTranslator {

  private ServiceTranslator() {}

  /** One entry per TCP port; nothing for headless services, which clients reach by pod IP. */
  public static ImmutableList<ServicePortResources> translate(
      ServiceInfo service, ClusterState state, TranslatorOptions options) {
    if (service.headless()) {
      return ImmutableList.of();
    }
    boolean sharedBinding = options.upstreamBinding() == UpstreamBinding.SHARED;
    // per-pod binding keeps the base names: a pod's own clusters would need variants per pod (not done)
    ImmutableList<Proximity> proximities =
        sharedBinding ? proximities(service.trafficDistribution(), state) : ImmutableList.of();
    ImmutableList.Builder<ServicePortResources> resources = ImmutableList.builder();
    for (ServicePort port : service.ports()) {
      PortProtocol.of(port).ifPresent(protocol -> {
        OutboundService outbound = new OutboundService(service, port, protocol);
        String name = outbound.sharedName();
        ObjectKey key = service.key();
        boolean http = sharedBinding && protocol.http();
        ImmutableList.Builder<Cluster> destinations = ImmutableList.builder();
        if (sharedBinding) {
          for (String clusterIp : service.clusterIps()) {
            destinations.add(http
                ? ClusterTranslator.destinationInternalCluster(outbound, clusterIp, options)
                : ClusterTranslator.destinationServiceCluster(outbound, clusterIp, options));
          }
        }
        // routes attach to HTTP ports only (RouteResolution.statuses tells the others why)
        ImmutableList<RouteResolution.Entry> attached = protocol.http()
            ? RouteResolution.entriesFor(state, service, port) : ImmutableList.of();
        RouteConfiguration routes =
            attached.isEmpty() ? RouteTranslator.serviceRoutes(name, name) : RouteTranslator.meshRoutes(name, attached);
        ImmutableList<String> backends = RouteTranslator.backendNames(attached);
        TreeMap<String, ServicePortResources.Variant> variants = new TreeMap<>();
        for (Proximity proximity : proximities) {
          variants.put(proximity.suffix(), variant(outbound, http, routes, backends, proximity, state, options));
        }
        resources.add(new ServicePortResources(
            outbound,
            ClusterTranslator.sharedServiceCluster(outbound, options),
            EndpointTranslator.serviceEndpoints(service, port, state),
            routes,
            backends,
            ImmutableList.of(
                ProxylessTranslator.apiListener(ResourceNames.proxylessListener(key, port.port()), name),
                ProxylessTranslator.apiListener(ResourceNames.proxylessShortListener(key, port.port()), name)),
            http ? ListenerTranslator.internalListener(outbound, options) : null,
            destinations.build(),
            ImmutableSortedMap.copyOfSorted(variants)));
      });
    }
    return resources.build();
  }

  /**
   * The variants a service asking for {@code distribution} gets: one per zone of the cluster's nodes
   * (PreferClose/PreferSameZone), or one per node (PreferSameNode); none otherwise. O(zones) or O(nodes) per port.
   */
  static ImmutableList<Proximity> proximities(TrafficDistribution distribution, ClusterState state) {
    return switch (distribution) {
      case NONE -> ImmutableList.of();
      case PREFER_SAME_ZONE -> {
        TreeSet<String> zones = new TreeSet<>();
        state.nodes().values().forEach(node -> node.zone().ifPresent(zones::add));
        yield zones.stream().map(Proximity::ofZone).collect(ImmutableList.toImmutableList());
      }
      case PREFER_SAME_NODE -> state.nodes().values().stream()
          .map(node -> Proximity.ofNode(node.name(), node.zone()))
          .collect(ImmutableList.toImmutableList());
    };
  }

  /**
   * The resources of one variant: endpoints in priorities, the cluster over them, the destination clusters and
   * (HTTP) the internal listener and the base routes, renamed, with each backend of an asking service (this
   * one included) sent to the variant for the same clients.
   */
  private static ServicePortResources.Variant variant(OutboundService outbound, boolean http,
      RouteConfiguration baseRoutes, ImmutableList<String> baseBackends, Proximity proximity, ClusterState state,
      TranslatorOptions options) {
    String suffix = proximity.suffix();
    String name = ResourceNames.variant(outbound.sharedName(), suffix);
    NodeLocality clients = proximity.locality();
    UnaryOperator<String> backend = cluster -> backendFor(cluster, clients, state);
    ImmutableList.Builder<Cluster> destinations = ImmutableList.builder();
    for (String clusterIp : outbound.service().clusterIps()) {
      destinations.add(http
          ? ClusterTranslator.destinationInternalCluster(outbound, clusterIp, suffix, options)
          : ClusterTranslator.destinationServiceCluster(outbound, clusterIp, suffix, options));
    }
    return new ServicePortResources.Variant(
        proximity,
        ClusterTranslator.variantServiceCluster(outbound, suffix, options),
        EndpointTranslator.variantEndpoints(outbound.service(), outbound.port(), state, proximity),
        http ? RouteTranslator.renamed(baseRoutes, name, backend) : null,
        baseBackends.stream().map(backend).collect(ImmutableList.toImmutableList()),
        http ? ListenerTranslator.internalListener(name, options) : null,
        destinations.build(),
        http ? ImmutableList.of(
            ProxylessTranslator.apiListener(ResourceNames.proxylessVariant(
                ResourceNames.proxylessListener(outbound.service().key(), outbound.port().port()), proximity), name),
            ProxylessTranslator.apiListener(ResourceNames.proxylessVariant(
                ResourceNames.proxylessShortListener(outbound.service().key(), outbound.port().port()), proximity),
                name))
            : ImmutableList.of());
  }

  /** A route backend for these clients: the variant of an asking service's port, else the base name. */
  private static String backendFor(String cluster, NodeLocality clients, ClusterState state) {
    if (!cluster.startsWith("svc/")) {
      return cluster; // unresolved-backend
    }
    Optional<ServiceInfo> service = ResourceNames.serviceOf(cluster).flatMap(state::service);
    return service.flatMap(s -> Proximity.of(s.trafficDistribution(), clients))
        .map(proximity -> ResourceNames.variant(cluster, proximity.suffix()))
        .orElse(cluster);
  }
}
