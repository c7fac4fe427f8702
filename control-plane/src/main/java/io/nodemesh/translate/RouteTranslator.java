package io.nodemesh.translate;

import com.google.protobuf.Duration;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;

/** Builds the route configuration of an HTTP/gRPC service port: every request to the port's cluster. */
public final class RouteTranslator {

  /** Retry what is safe to retry: the request never reached the application. */
  private static final String RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled";

  private RouteTranslator() {}

  /**
   * A route config named {@code routeName} sending all requests to {@code clusterName}. The shared config
   * ({@code svc/...} to {@code svc/...}) serves node Envoys in shared mode and proxyless clients.
   */
  public static RouteConfiguration serviceRoutes(String routeName, String clusterName) {
    return RouteConfiguration.newBuilder()
        .setName(routeName)
        .addVirtualHosts(VirtualHost.newBuilder()
            .setName(routeName)
            .addDomains("*")
            .addRoutes(Route.newBuilder()
                .setMatch(RouteMatch.newBuilder().setPrefix("/"))
                .setRoute(RouteAction.newBuilder()
                    .setCluster(clusterName)
                    // no per-route deadline: gRPC streams are long-lived, callers set their own deadlines
                    .setTimeout(Duration.getDefaultInstance())
                    .setRetryPolicy(RetryPolicy.newBuilder()
                        .setRetryOn(RETRY_ON)
                        .setNumRetries(EnvoyBuilders.uint32(2))))))
        .build();
  }
}
