package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;

/**
 * The node-independent resources of one service port, named {@code svc/{ns}/{svc}/{port}} except the proxyless
 * listeners and the destination clusters: shared cluster, endpoints, route config, the ApiListeners (long and
 * short name), and in shared binding the service layer a pod listener reaches by original destination (and
 * its trafficDistribution variants).
 *
 * @param routeBackends the shared names ({@code svc/...}) of the other service ports this port's routes send or
 *     mirror to (HTTPRoute/GRPCRoute backendRefs): a node that calls this port needs their clusters and endpoints
 * @param internalListener shared binding, HTTP port: the internal listener whose connection manager balances
 *     requests onto {@code cluster}; null otherwise
 * @param destinationClusters shared binding: {@code dst/{clusterIp}/{port}} per ClusterIP (the hop into
 *     {@code internalListener}, or for TCP an EDS cluster over {@code endpoints}); empty in per-pod binding
 * @param variants shared binding, a service asking for trafficDistribution: by suffix ({@code @zone/{z}},
 *     {@code @node/{n}}), the same resources named with the suffix, endpoints in priorities; empty otherwise
 */
public record ServicePortResources(
    OutboundService outbound,
    Cluster cluster,
    ClusterLoadAssignment endpoints,
    RouteConfiguration routes,
    ImmutableList<String> routeBackends,
    ImmutableList<Listener> proxylessListeners,
    Listener internalListener,
    ImmutableList<Cluster> destinationClusters,
    ImmutableSortedMap<String, Variant> variants) {

  /**
   * One variant of the port: every name is the base name plus {@code proximity.suffix()}.
   *
   * @param cluster EDS over {@code endpoints}; a node needs it for HTTP ports or when a route sends to it
   * @param routes HTTP ports: the base routes with every backend of an asking service renamed to its variant
   * @param routeBackends the names {@code routes} sends or mirrors to (variants or base names)
   * @param internalListener HTTP ports: the internal listener whose connection manager reads {@code routes}
   * @param destinationClusters {@code dst/{clusterIp}/{port}{suffix}} per ClusterIP
   * @param proxylessListeners HTTP ports: the ApiListeners {@code {zone}.zone.{svc}.{ns}.svc.cluster.local:{port}} (or
   *     {@code {node}.node.}; and the short name) over {@code routes}, for gRPC clients that name the variant in their
   *     target ({@link ResourceNames#proxylessVariant})
   */
  public record Variant(Proximity proximity, Cluster cluster, ClusterLoadAssignment endpoints,
      RouteConfiguration routes, ImmutableList<String> routeBackends, Listener internalListener,
      ImmutableList<Cluster> destinationClusters, ImmutableList<Listener> proxylessListeners) {

    public String name() {
      return cluster.getName();
    }
  }

  /** A port without variants (what every port was before trafficDistribution). */
  public ServicePortResources(OutboundService outbound, Cluster cluster, ClusterLoadAssignment endpoints,
      RouteConfiguration routes, ImmutableList<String> routeBackends, ImmutableList<Listener> proxylessListeners,
      Listener internalListener, ImmutableList<Cluster> destinationClusters) {
    this(outbound, cluster, endpoints, routes, routeBackends, proxylessListeners, internalListener,
        destinationClusters, ImmutableSortedMap.of());
  }

  public ServicePortResources {
    variants = variants == null ? ImmutableSortedMap.of() : variants;
  }

  /** Every resource of the port, variants included, for the store. */
  public ImmutableList<Message> allResources() {
    ImmutableList.Builder<Message> all = ImmutableList.builder();
    all.add(cluster, endpoints, routes).addAll(proxylessListeners).addAll(destinationClusters);
    if (internalListener != null) {
      all.add(internalListener);
    }
    for (Variant variant : variants.values()) {
      all.add(variant.cluster(), variant.endpoints()).addAll(variant.destinationClusters())
          .addAll(variant.proxylessListeners());
      if (variant.routes() != null) {
        all.add(variant.routes());
      }
      if (variant.internalListener() != null) {
        all.add(variant.internalListener());
      }
    }
    return all.build();
  }

  public String name() {
    return outbound.sharedName();
  }

  /** Whether a node's Envoy reaches this port through an internal listener (and so needs cluster and routes). */
  public boolean viaInternalListener() {
    return internalListener != null;
  }
}
