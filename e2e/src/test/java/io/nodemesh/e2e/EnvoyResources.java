package io.nodemesh.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.set_filter_state.v3.Config;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Reading what a client received, and what the admin endpoint reports, in the terms scenarios assert on:
 * netns paths, filter chains, endpoints, per-client sync state.
 */
public final class EnvoyResources {

  static final String NETNS_OBJECT_KEY = "envoy.network.upstream_bind_override.network_namespace";

  private EnvoyResources() {}

  /** The ip:port endpoints of an assignment, sorted. */
  public static List<String> endpoints(ClusterLoadAssignment assignment) {
    TreeSet<String> hosts = new TreeSet<>();
    for (LocalityLbEndpoints locality : assignment.getEndpointsList()) {
      for (LbEndpoint endpoint : locality.getLbEndpointsList()) {
        var address = endpoint.getEndpoint().getAddress().getSocketAddress();
        hosts.add(address.getAddress() + ":" + address.getPortValue());
      }
    }
    return List.copyOf(hosts);
  }

  /** The IPs of an assignment, sorted. */
  public static List<String> endpointIps(ClusterLoadAssignment assignment) {
    return endpoints(assignment).stream().map(hostPort -> hostPort.substring(0, hostPort.lastIndexOf(':'))).toList();
  }

  /** The named filter chain of a listener. */
  public static FilterChain chain(Listener listener, String name) {
    return chains(listener).stream().filter(c -> c.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no filter chain " + name + " in " + listener.getName()));
  }

  /** Filter chains including the default chain. */
  public static List<FilterChain> chains(Listener listener) {
    List<FilterChain> chains = new ArrayList<>(listener.getFilterChainsList());
    if (listener.hasDefaultFilterChain()) {
      chains.add(listener.getDefaultFilterChain());
    }
    return chains;
  }

  /** The netns path a shared-mode chain's set_filter_state puts under the upstream-bind key, if any. */
  public static Optional<String> filterStateNetns(FilterChain chain) {
    for (Filter filter : chain.getFiltersList()) {
      if (filter.getTypedConfig().is(Config.class)) {
        Config config = unpack(filter.getTypedConfig(), Config.class);
        for (var value : config.getOnNewConnectionList()) {
          if (value.getObjectKey().equals(NETNS_OBJECT_KEY)) {
            return Optional.of(value.getFormatString().getTextFormatSource().getInlineString());
          }
        }
      }
    }
    return Optional.empty();
  }

  /** The chain's HttpConnectionManager, if it ends in one. */
  public static Optional<HttpConnectionManager> httpConnectionManager(FilterChain chain) {
    return terminal(chain, HttpConnectionManager.class);
  }

  private static <T extends com.google.protobuf.Message> Optional<T> terminal(FilterChain chain, Class<T> type) {
    if (chain.getFiltersCount() == 0) {
      return Optional.empty();
    }
    Any last = chain.getFilters(chain.getFiltersCount() - 1).getTypedConfig();
    return last.is(type) ? Optional.of(unpack(last, type)) : Optional.empty();
  }

  public static <T extends com.google.protobuf.Message> T unpack(Any any, Class<T> type) {
    try {
      return any.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- admin JSON

  /** The {@code /debug/syncz} entry of the client with this node id. */
  public static JsonNode syncClient(JsonNode syncz, String nodeId) {
    for (JsonNode client : syncz.path("clients")) {
      if (client.path("node_id").asText().equals(nodeId)) {
        return client;
      }
    }
    throw new AssertionError("no client " + nodeId + " in /debug/syncz: " + syncz);
  }

  /** One type's status of a {@code /debug/syncz} client. */
  public static JsonNode syncType(JsonNode client, String typeUrl) {
    for (JsonNode type : client.path("types")) {
      if (type.path("type_url").asText().equals(typeUrl)) {
        return type;
      }
    }
    throw new AssertionError("no type " + typeUrl + " for client " + client);
  }

  /** The {@code /debug/nodes} entry of a node. */
  public static JsonNode node(JsonNode nodes, String name) {
    for (JsonNode node : nodes) {
      if (node.path("name").asText().equals(name)) {
        return node;
      }
    }
    throw new AssertionError("no node " + name + " in " + nodes);
  }

  /**
   * The names of one kind ("listeners", "clusters", "endpoints", "routes") in {@code /debug/nodes/{node}/config},
   * which has Envoy's config_dump shape.
   */
  public static List<String> configNames(JsonNode config, String kind) {
    String dumpType = switch (kind) {
      case "listeners" -> "ListenersConfigDump";
      case "clusters" -> "ClustersConfigDump";
      case "endpoints" -> "EndpointsConfigDump";
      case "routes" -> "RoutesConfigDump";
      default -> throw new IllegalArgumentException(kind);
    };
    List<String> names = new ArrayList<>();
    for (JsonNode dump : config.path("configs")) {
      if (!dump.path("@type").asText().endsWith("envoy.admin.v3." + dumpType)) {
        continue;
      }
      switch (kind) {
        case "listeners" -> dump.path("dynamic_listeners").forEach(l -> names.add(l.path("name").asText()));
        case "clusters" -> dump.path("dynamic_active_clusters")
            .forEach(c -> names.add(c.path("cluster").path("name").asText()));
        case "endpoints" -> dump.path("dynamic_endpoint_configs")
            .forEach(e -> names.add(e.path("endpoint_config").path("cluster_name").asText()));
        default -> dump.path("dynamic_route_configs")
            .forEach(r -> names.add(r.path("route_config").path("name").asText()));
      }
    }
    return names;
  }

}
