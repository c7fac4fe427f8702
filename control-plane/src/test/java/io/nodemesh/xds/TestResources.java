package io.nodemesh.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;

/** Small, valid Envoy resources built by hand for xDS tests. */
final class TestResources {

  private TestResources() {}

  static final ConfigSource ADS =
      ConfigSource.newBuilder()
          .setAds(AggregatedConfigSource.getDefaultInstance())
          .setResourceApiVersion(ApiVersion.V3)
          .build();

  /** An Envoy node of a Kubernetes node (node_name metadata set). */
  static Node envoyNode(String podName, String nodeName) {
    return Node.newBuilder()
        .setId(podName)
        .setMetadata(
            Struct.newBuilder()
                .putFields(NodeIdentity.NODE_NAME_KEY, Value.newBuilder().setStringValue(nodeName).build()))
        .build();
  }

  /** A node without node_name metadata (a proxyless client, or an Envoy that did not set it). */
  static Node bareNode(String id) {
    return Node.newBuilder().setId(id).build();
  }

  /** A pod outbound listener that tcp-proxies to {@code cluster}; {@code port} varies the content. */
  static Listener listener(String name, String cluster, int port) {
    TcpProxy proxy = TcpProxy.newBuilder().setStatPrefix("outbound").setCluster(cluster).build();
    return Listener.newBuilder()
        .setName(name)
        .setAddress(
            Address.newBuilder()
                .setSocketAddress(SocketAddress.newBuilder().setAddress("0.0.0.0").setPortValue(port)))
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(Filter.newBuilder().setName("envoy.filters.network.tcp_proxy").setTypedConfig(Any.pack(proxy))))
        .build();
  }

  static Listener listener(String name, String cluster) {
    return listener(name, cluster, 15001);
  }

  /** An EDS cluster fed over ADS; {@code timeoutMillis} varies the content. */
  static Cluster cluster(String name, int timeoutMillis) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS))
        .setConnectTimeout(Duration.newBuilder().setNanos(timeoutMillis * 1_000_000))
        .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN)
        .build();
  }

  static Cluster cluster(String name) {
    return cluster(name, 250);
  }

  /** Endpoints: one locality of weight 1 with the given host:port endpoints. */
  static ClusterLoadAssignment endpoints(String cluster, String host, int... ports) {
    LocalityLbEndpoints.Builder locality =
        LocalityLbEndpoints.newBuilder()
            .setLocality(Locality.newBuilder().setZone("zone-a"))
            .setLoadBalancingWeight(UInt32Value.of(1));
    for (int port : ports) {
      locality.addLbEndpoints(
          LbEndpoint.newBuilder()
              .setEndpoint(
                  Endpoint.newBuilder()
                      .setAddress(
                          Address.newBuilder()
                              .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port)))));
    }
    return ClusterLoadAssignment.newBuilder().setClusterName(cluster).addEndpoints(locality).build();
  }

  /** A route configuration sending everything to {@code cluster}. */
  static RouteConfiguration route(String name, String cluster) {
    return RouteConfiguration.newBuilder()
        .setName(name)
        .addVirtualHosts(
            VirtualHost.newBuilder()
                .setName(name)
                .addDomains("*")
                .addRoutes(
                    Route.newBuilder()
                        .setMatch(RouteMatch.newBuilder().setPrefix(""))
                        .setRoute(RouteAction.newBuilder().setCluster(cluster))))
        .build();
  }

  /** A proxyless gRPC listener: an ApiListener whose HttpConnectionManager takes its routes from RDS. */
  static Listener apiListener(String name, String routeConfigName) {
    HttpConnectionManager manager =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("proxyless")
            .setRds(Rds.newBuilder().setConfigSource(ADS).setRouteConfigName(routeConfigName))
            .addHttpFilters(
                HttpFilter.newBuilder()
                    .setName("envoy.filters.http.router")
                    .setTypedConfig(Any.pack(Router.getDefaultInstance())))
            .build();
    return Listener.newBuilder()
        .setName(name)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(manager)))
        .build();
  }
}
