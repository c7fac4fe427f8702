package io.nodemesh.translate;

import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ObjectKey;

/**
 * A node's snapshot: the listeners and clusters its Envoy gets through wildcard LDS/CDS, and the endpoints
 * and route configs those reference (requested by name, shared with other nodes). Keyed and sorted by name.
 * {@code podProblems} holds, per pod of the node, what went wrong while translating it.
 */
public record NodeResources(
    String nodeName,
    ImmutableSortedMap<String, Listener> listeners,
    ImmutableSortedMap<String, Cluster> clusters,
    ImmutableSortedMap<String, ClusterLoadAssignment> endpoints,
    ImmutableSortedMap<String, RouteConfiguration> routes,
    ImmutableSortedMap<ObjectKey, String> podProblems) {

  public int resourceCount() {
    return listeners.size() + clusters.size() + endpoints.size() + routes.size();
  }
}
