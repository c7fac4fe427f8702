package io.nodemesh.translate;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;

/**
 * Builds what a proxyless gRPC client ({@code xds:///svc.ns.svc.cluster.local:port}) asks for first: an
 * ApiListener whose HttpConnectionManager points at the shared route config over RDS (ARCHITECTURE.md §4).
 */
public final class ProxylessTranslator {

  private ProxylessTranslator() {}

  /** The ApiListener {@code listenerName} routing through route config {@code routeName}. */
  public static Listener apiListener(String listenerName, String routeName) {
    HttpConnectionManager hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix(ResourceNames.statPrefix(listenerName))
            .setRds(Rds.newBuilder().setConfigSource(EnvoyBuilders.ads()).setRouteConfigName(routeName))
            .addHttpFilters(HttpFilter.newBuilder()
                .setName(EnvoyBuilders.ROUTER_FILTER)
                .setTypedConfig(Any.pack(Router.getDefaultInstance())))
            .build();
    return Listener.newBuilder()
        .setName(listenerName)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm)))
        .build();
  }
}
