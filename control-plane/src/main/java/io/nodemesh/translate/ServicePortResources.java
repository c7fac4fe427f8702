package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;

/**
 * The node-independent resources of one service port, all named {@code svc/{ns}/{svc}/{port}} except the
 * proxyless listeners: shared cluster, endpoints, route config, and the ApiListeners (long and short name).
 */
public record ServicePortResources(
    OutboundService outbound,
    Cluster cluster,
    ClusterLoadAssignment endpoints,
    RouteConfiguration routes,
    ImmutableList<Listener> proxylessListeners) {

  public String name() {
    return outbound.sharedName();
  }
}
