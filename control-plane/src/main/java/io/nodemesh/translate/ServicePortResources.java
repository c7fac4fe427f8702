package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;

/**
 * The node-independent resources of one service port, named {@code svc/{ns}/{svc}/{port}} except the proxyless
 * listeners and the destination clusters: shared cluster, endpoints, route config, the ApiListeners (long and
 * short name), and in shared binding the service layer a pod listener reaches by original destination.
 *
 * @param routeBackends the shared names ({@code svc/...}) of the other service ports this port's routes send or
 *     mirror to (HTTPRoute/GRPCRoute backendRefs): a node that calls this port needs their clusters and endpoints
 * @param internalListener shared binding, HTTP port: the internal listener whose connection manager balances
 *     requests onto {@code cluster}; null otherwise
 * @param destinationClusters shared binding: {@code dst/{clusterIp}/{port}} per ClusterIP (the hop into
 *     {@code internalListener}, or for TCP an EDS cluster over {@code endpoints}); empty in per-pod binding
 */
public record ServicePortResources(
    OutboundService outbound,
    Cluster cluster,
    ClusterLoadAssignment endpoints,
    RouteConfiguration routes,
    ImmutableList<String> routeBackends,
    ImmutableList<Listener> proxylessListeners,
    Listener internalListener,
    ImmutableList<Cluster> destinationClusters) {

  public String name() {
    return outbound.sharedName();
  }

  /** Whether a node's Envoy reaches this port through an internal listener (and so needs cluster and routes). */
  public boolean viaInternalListener() {
    return internalListener != null;
  }
}
