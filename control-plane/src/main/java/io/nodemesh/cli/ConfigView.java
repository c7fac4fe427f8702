package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.nodemesh.api.envoy.EnvoyTypes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** {@code config <node>}: a node's config_dump as one table per resource type, or its JSON narrowed to a type. */
final class ConfigView {

  private static final int LISTED_DOMAINS = 3;

  private ConfigView() {}

  static String render(String configDump, Cli.ConfigType type, Cli.Output output) throws DebugPortClient.Failure {
    JsonNode tree = Cli.parse(configDump);
    if (output == Cli.Output.JSON) {
      return type == Cli.ConfigType.ALL ? Cli.pretty(configDump) : narrowed(tree, type);
    }
    ConfigDump dump = parse(configDump, tree);
    List<String> sections = new ArrayList<>();
    try {
      for (Any config : dump.getConfigsList()) {
        Message section = EnvoyTypes.unpack(config);
        if (section instanceof ListenersConfigDump listeners && wanted(type, Cli.ConfigType.LISTENERS)) {
          sections.add(listeners(listeners));
        } else if (section instanceof ClustersConfigDump clusters && wanted(type, Cli.ConfigType.CLUSTERS)) {
          sections.add(clusters(clusters));
        } else if (section instanceof EndpointsConfigDump endpoints && wanted(type, Cli.ConfigType.ENDPOINTS)) {
          sections.add(endpoints(endpoints));
        } else if (section instanceof RoutesConfigDump routes && wanted(type, Cli.ConfigType.ROUTES)) {
          sections.add(routes(routes));
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw new DebugPortClient.Failure("the node's config dump holds a resource that does not parse: "
          + e.getMessage());
    }
    return String.join("\n", sections);
  }

  private static boolean wanted(Cli.ConfigType asked, Cli.ConfigType section) {
    return asked == Cli.ConfigType.ALL || asked == section;
  }

  /** Envoy's JSON names every Any's type; the parser needs each of them, so the registry is built from the text. */
  private static ConfigDump parse(String json, JsonNode tree) throws DebugPortClient.Failure {
    JsonFormat.TypeRegistry.Builder registry = JsonFormat.TypeRegistry.newBuilder();
    for (String typeUrl : typeUrls(tree, new TreeSet<>())) {
      registry.add(EnvoyTypes.descriptorFor(typeUrl).orElseThrow(() ->
          new DebugPortClient.Failure("the node's config dump holds a type this CLI does not know: " + typeUrl)));
    }
    ConfigDump.Builder dump = ConfigDump.newBuilder();
    try {
      JsonFormat.parser().usingTypeRegistry(registry.build()).merge(json, dump);
    } catch (InvalidProtocolBufferException e) {
      throw new DebugPortClient.Failure("the debug port's answer is not an Envoy config dump: " + e.getMessage());
    }
    return dump.build();
  }

  private static Set<String> typeUrls(JsonNode node, Set<String> found) {
    if (node.isObject() && node.path("@type").isTextual()) {
      found.add(node.get("@type").asText());
    }
    node.forEach(child -> typeUrls(child, found));
    return found;
  }

  /** The config dump with only the asked type's section, still in config_dump's shape. */
  private static String narrowed(JsonNode tree, Cli.ConfigType type) throws DebugPortClient.Failure {
    String section = switch (type) {
      case LISTENERS -> ListenersConfigDump.getDescriptor().getFullName();
      case CLUSTERS -> ClustersConfigDump.getDescriptor().getFullName();
      case ENDPOINTS -> EndpointsConfigDump.getDescriptor().getFullName();
      case ROUTES -> RoutesConfigDump.getDescriptor().getFullName();
      case ALL -> throw new IllegalStateException("ALL is not narrowed");
    };
    ObjectNode result = Cli.json().createObjectNode();
    ArrayNode configs = result.putArray("configs");
    tree.path("configs").forEach(config -> {
      if (config.path("@type").asText().equals(EnvoyTypes.typeUrl(section))) {
        configs.add(config);
      }
    });
    try {
      return Cli.json().writeValueAsString(result) + "\n";
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new DebugPortClient.Failure(e.getMessage());
    }
  }

  private static String listeners(ListenersConfigDump dump) throws InvalidProtocolBufferException {
    TextTable table = new TextTable("LISTENER", "ADDRESS", "NETWORK NAMESPACE", "FILTER CHAINS", "VERSION");
    for (ListenersConfigDump.DynamicListener entry : dump.getDynamicListenersList()) {
      Listener listener = entry.getActiveState().getListener().unpack(Listener.class);
      SocketAddress address = listener.getAddress().getSocketAddress();
      // the shared service layer's listeners are internal (reached by Envoy's internal connections, no socket)
      boolean internal = listener.hasInternalListener() || listener.getAddress().hasEnvoyInternalAddress();
      table.row(listener.getName(), internal ? "internal" : address.getAddress() + ":" + address.getPortValue(),
          address.getNetworkNamespaceFilepath().isEmpty() ? "-" : address.getNetworkNamespaceFilepath(),
          Integer.toString(listener.getFilterChainsCount() + (listener.hasDefaultFilterChain() ? 1 : 0)),
          StatusView.shortVersion(entry.getActiveState().getVersionInfo()));
    }
    return table.render();
  }

  private static String clusters(ClustersConfigDump dump) throws InvalidProtocolBufferException {
    TextTable table = new TextTable("CLUSTER", "TYPE", "VERSION");
    for (ClustersConfigDump.DynamicCluster entry : dump.getDynamicActiveClustersList()) {
      Cluster cluster = entry.getCluster().unpack(Cluster.class);
      table.row(cluster.getName(), cluster.hasClusterType() ? cluster.getClusterType().getName()
          : cluster.getType().name(), StatusView.shortVersion(entry.getVersionInfo()));
    }
    return table.render();
  }

  private static String endpoints(EndpointsConfigDump dump) throws InvalidProtocolBufferException {
    TextTable table = new TextTable("ENDPOINT", "ZONE", "HEALTH", "CLUSTER");
    for (EndpointsConfigDump.DynamicEndpointConfig entry : dump.getDynamicEndpointConfigsList()) {
      ClusterLoadAssignment assignment = entry.getEndpointConfig().unpack(ClusterLoadAssignment.class);
      for (LocalityLbEndpoints locality : assignment.getEndpointsList()) {
        for (LbEndpoint endpoint : locality.getLbEndpointsList()) {
          SocketAddress address = endpoint.getEndpoint().getAddress().getSocketAddress();
          table.row(address.getAddress() + ":" + address.getPortValue(),
              locality.getLocality().getZone().isEmpty() ? "-" : locality.getLocality().getZone(),
              endpoint.getHealthStatus().name(), assignment.getClusterName());
        }
      }
      if (assignment.getEndpointsCount() == 0) {
        table.row("<none>", "-", "-", assignment.getClusterName());
      }
    }
    return table.render();
  }

  private static String routes(RoutesConfigDump dump) throws InvalidProtocolBufferException {
    TextTable table = new TextTable("ROUTE CONFIG", "DOMAINS", "ROUTES", "VERSION");
    for (RoutesConfigDump.DynamicRouteConfig entry : dump.getDynamicRouteConfigsList()) {
      RouteConfiguration routes = entry.getRouteConfig().unpack(RouteConfiguration.class);
      List<String> domains = new ArrayList<>();
      int routeCount = 0;
      for (VirtualHost host : routes.getVirtualHostsList()) {
        domains.addAll(host.getDomainsList());
        routeCount += host.getRoutesCount();
      }
      String shown = String.join(",", domains.subList(0, Math.min(LISTED_DOMAINS, domains.size())))
          + (domains.size() > LISTED_DOMAINS ? " +" + (domains.size() - LISTED_DOMAINS) + " more" : "");
      table.row(routes.getName(), shown.isEmpty() ? "-" : shown, Integer.toString(routeCount),
          StatusView.shortVersion(entry.getVersionInfo()));
    }
    return table.render();
  }
}
