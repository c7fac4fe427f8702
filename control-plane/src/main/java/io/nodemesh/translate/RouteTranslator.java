package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Duration;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatchAndSubstitute;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.RouteResolution;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Builds the route configuration of an HTTP/gRPC service port: every request to the port's cluster, or, when
 * HTTPRoutes/GRPCRoutes attach to the port (docs/ROUTING.md), their rules in the Gateway API's precedence order.
 * Only matchers both Envoy and grpc-java's xDS client understand are emitted (path, prefix, safe_regex,
 * string_match headers), since proxyless clients read the same shared route config.
 */
public final class RouteTranslator {

  /** Retry what is safe to retry: the request never reached the application. */
  private static final String RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled";
  private static final int DEFAULT_RETRIES = 2;

  private RouteTranslator() {}

  /**
   * A route config named {@code routeName} sending all requests to {@code clusterName}. The shared config
   * ({@code svc/...} to {@code svc/...}) serves node Envoys in shared mode and proxyless clients.
   */
  public static RouteConfiguration serviceRoutes(String routeName, String clusterName) {
    return config(routeName, List.of(Route.newBuilder()
        .setMatch(RouteMatch.newBuilder().setPrefix("/"))
        .setRoute(RouteAction.newBuilder()
            .setCluster(clusterName)
            // no per-route deadline: gRPC streams are long-lived, callers set their own deadlines
            .setTimeout(Duration.getDefaultInstance())
            .setRetryPolicy(defaultRetries()))
        .build()));
  }

  /**
   * The route config of a port that routes attach to: one Envoy route per match, highest precedence first.
   * A request no rule matches gets 404 (Envoy) or UNAVAILABLE (gRPC clients): attached routes replace the
   * port's default route, as the mesh profile specifies.
   */
  public static RouteConfiguration meshRoutes(String routeName, List<RouteResolution.Entry> entries) {
    List<Route> routes = new ArrayList<>();
    for (RouteResolution.Entry entry : entries) {
      for (RouteMatch match : matches(entry.match())) {
        Route.Builder route = Route.newBuilder()
            .setName(entry.route().namespace() + "/" + entry.route().name() + "/rule" + entry.ruleIndex())
            .setMatch(match);
        headerModifiers(route, entry.rule());
        action(route, entry, match);
        routes.add(route.build());
      }
    }
    return config(routeName, routes);
  }

  /** The shared names of every backend and mirror the entries send to: the clusters a node must hold. */
  public static ImmutableList<String> backendNames(List<RouteResolution.Entry> entries) {
    Set<String> names = new LinkedHashSet<>();
    for (RouteResolution.Entry entry : entries) {
      entry.backends().stream().filter(RouteResolution.Target::resolved)
          .forEach(target -> names.add(backendName(target.backend())));
      entry.mirrors().forEach(mirror -> names.add(backendName(mirror.backend())));
    }
    return ImmutableList.copyOf(names);
  }

  /**
   * {@code base} renamed {@code routeName}, every cluster it sends or mirrors to passed through {@code cluster}:
   * a trafficDistribution variant routes exactly as the base, to the variants of the backends that ask.
   */
  public static RouteConfiguration renamed(
      RouteConfiguration base, String routeName, UnaryOperator<String> cluster) {
    RouteConfiguration.Builder config = base.toBuilder().setName(routeName);
    for (VirtualHost.Builder host : config.getVirtualHostsBuilderList()) {
      host.setName(routeName);
      for (Route.Builder route : host.getRoutesBuilderList()) {
        if (!route.hasRoute()) {
          continue; // redirects and direct responses name no cluster
        }
        RouteAction.Builder action = route.getRouteBuilder();
        if (action.hasWeightedClusters()) {
          action.getWeightedClustersBuilder().getClustersBuilderList()
              .forEach(weighted -> weighted.setName(cluster.apply(weighted.getName())));
        } else if (!action.getCluster().isEmpty()) {
          action.setCluster(cluster.apply(action.getCluster()));
        }
        action.getRequestMirrorPoliciesBuilderList()
            .forEach(mirror -> mirror.setCluster(cluster.apply(mirror.getCluster())));
      }
    }
    return config.build();
  }

  private static RouteConfiguration config(String routeName, List<Route> routes) {
    return RouteConfiguration.newBuilder()
        .setName(routeName)
        .addVirtualHosts(VirtualHost.newBuilder().setName(routeName).addDomains("*").addAllRoutes(routes))
        .build();
  }

  private static RetryPolicy defaultRetries() {
    return RetryPolicy.newBuilder().setRetryOn(RETRY_ON).setNumRetries(EnvoyBuilders.uint32(DEFAULT_RETRIES)).build();
  }

  /**
   * Envoy matches for one Gateway API match. A segment prefix {@code /a} becomes two: path {@code /a} and prefix
   * {@code /a/} (Envoy's path_separated_prefix would be one, but grpc-java's client does not know it).
   */
  private static List<RouteMatch> matches(MeshRoute.Match match) {
    RouteMatch.Builder common = RouteMatch.newBuilder();
    if (match != null) {
      for (MeshRoute.ValueMatch header : match.headers()) {
        common.addHeaders(HeaderMatcher.newBuilder()
            .setName(header.name().toLowerCase(Locale.ROOT))
            .setStringMatch(stringMatch(header.type(), header.value())));
      }
      if (!match.method().isEmpty()) {
        common.addHeaders(HeaderMatcher.newBuilder().setName(":method")
            .setStringMatch(StringMatcher.newBuilder().setExact(match.method())));
      }
      for (MeshRoute.ValueMatch query : match.queryParams()) {
        common.addQueryParameters(QueryParameterMatcher.newBuilder()
            .setName(query.name())
            .setStringMatch(stringMatch(query.type(), query.value())));
      }
    }
    MeshRoute.PathMatch path = match == null || match.path() == null
        ? new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, "/") : match.path();
    return switch (path.type()) {
      case EXACT -> List.of(common.setPath(path.value()).build());
      case REGEX -> List.of(common.setSafeRegex(RegexMatcher.newBuilder().setRegex(path.value())).build());
      case PREFIX -> {
        String prefix = trimTrailingSlashes(path.value());
        yield prefix.isEmpty() ? List.of(common.setPrefix("/").build())
            : List.of(common.clone().setPath(prefix).build(), common.setPrefix(prefix + "/").build());
      }
    };
  }

  private static void action(Route.Builder route, RouteResolution.Entry entry, RouteMatch match) {
    MeshRoute.Rule rule = entry.rule();
    for (MeshRoute.Filter filter : rule.filters()) {
      if (filter instanceof MeshRoute.Redirect redirect) {
        route.setRedirect(redirect(redirect, match));
        return;
      }
    }
    List<RouteResolution.Target> weighted =
        entry.backends().stream().filter(target -> target.backend().weight() > 0).toList();
    if (weighted.isEmpty()) {
      // no backend, or all at weight 0: the Gateway API asks for a 500
      route.setDirectResponse(DirectResponseAction.newBuilder().setStatus(500));
      return;
    }
    RouteAction.Builder action = RouteAction.newBuilder()
        .setClusterNotFoundResponseCode(RouteAction.ClusterNotFoundResponseCode.INTERNAL_SERVER_ERROR)
        .setTimeout(rule.requestTimeout() == null ? Duration.getDefaultInstance() : duration(rule.requestTimeout()))
        .setRetryPolicy(retryPolicy(rule));
    if (weighted.size() == 1) {
      action.setCluster(clusterOf(weighted.get(0)));
    } else {
      WeightedCluster.Builder clusters = WeightedCluster.newBuilder();
      for (RouteResolution.Target target : weighted) {
        clusters.addClusters(WeightedCluster.ClusterWeight.newBuilder()
            .setName(clusterOf(target))
            .setWeight(EnvoyBuilders.uint32(target.backend().weight())));
      }
      action.setWeightedClusters(clusters);
    }
    for (MeshRoute.Filter filter : rule.filters()) {
      if (filter instanceof MeshRoute.UrlRewrite rewrite) {
        if (rewrite.hostname() != null && !rewrite.hostname().isEmpty()) {
          action.setHostRewriteLiteral(rewrite.hostname());
        }
        if (rewrite.path() != null && rewrite.path().replaceFullPath() != null) {
          action.setRegexRewrite(RegexMatchAndSubstitute.newBuilder()
              .setPattern(RegexMatcher.newBuilder().setRegex("^/.*$"))
              .setSubstitution(rewrite.path().replaceFullPath()));
        } else if (rewrite.path() != null) {
          action.setPrefixRewrite(prefixReplacement(rewrite.path().replacePrefixMatch(), match));
        }
      }
    }
    for (MeshRoute.Mirror mirror : entry.mirrors()) {
      action.addRequestMirrorPolicies(RouteAction.RequestMirrorPolicy.newBuilder()
          .setCluster(backendName(mirror.backend()))
          .setRuntimeFraction(RuntimeFractionalPercent.newBuilder().setDefaultValue(FractionalPercent.newBuilder()
              .setNumerator((int) (1_000_000L * mirror.numerator() / mirror.denominator()))
              .setDenominator(FractionalPercent.DenominatorType.MILLION))));
    }
    route.setRoute(action);
  }

  private static RedirectAction redirect(MeshRoute.Redirect redirect, RouteMatch match) {
    RedirectAction.Builder action = RedirectAction.newBuilder().setResponseCode(switch (redirect.statusCode()) {
      case 301 -> RedirectAction.RedirectResponseCode.MOVED_PERMANENTLY;
      case 303 -> RedirectAction.RedirectResponseCode.SEE_OTHER;
      case 307 -> RedirectAction.RedirectResponseCode.TEMPORARY_REDIRECT;
      case 308 -> RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT;
      default -> RedirectAction.RedirectResponseCode.FOUND;
    });
    if (redirect.scheme() != null && !redirect.scheme().isEmpty()) {
      action.setSchemeRedirect(redirect.scheme());
    }
    if (redirect.hostname() != null && !redirect.hostname().isEmpty()) {
      action.setHostRedirect(redirect.hostname());
    }
    if (redirect.port() > 0) {
      action.setPortRedirect(redirect.port());
    }
    if (redirect.path() != null && redirect.path().replaceFullPath() != null) {
      action.setPathRedirect(redirect.path().replaceFullPath());
    } else if (redirect.path() != null) {
      action.setPrefixRewrite(prefixReplacement(redirect.path().replacePrefixMatch(), match));
    }
    return action.build();
  }

  /**
   * The prefix_rewrite that gives the Gateway API's replacePrefixMatch on one of the two Envoy matches of a
   * segment prefix: on the exact path the whole path is the prefix; on {@code /a/} the trailing slash was
   * matched too, so the replacement keeps one.
   */
  private static String prefixReplacement(String replacement, RouteMatch match) {
    if (match.hasPath() || replacement.endsWith("/")) {
      return replacement;
    }
    return replacement + "/";
  }

  private static RetryPolicy retryPolicy(MeshRoute.Rule rule) {
    RetryPolicy.Builder policy = rule.retry() == null ? defaultRetries().toBuilder()
        : RetryPolicy.newBuilder()
            .setRetryOn(rule.retry().codes().isEmpty() ? RETRY_ON : RETRY_ON + ",retriable-status-codes")
            .setNumRetries(EnvoyBuilders.uint32(rule.retry().attempts()))
            .addAllRetriableStatusCodes(rule.retry().codes());
    if (rule.retry() != null && rule.retry().backoff() != null && !rule.retry().backoff().isZero()) {
      policy.setRetryBackOff(RetryPolicy.RetryBackOff.newBuilder().setBaseInterval(duration(rule.retry().backoff())));
    }
    if (rule.backendTimeout() != null && !rule.backendTimeout().isZero()) {
      policy.setPerTryTimeout(duration(rule.backendTimeout()));
    }
    return policy.build();
  }

  private static void headerModifiers(Route.Builder route, MeshRoute.Rule rule) {
    for (MeshRoute.Filter filter : rule.filters()) {
      if (filter instanceof MeshRoute.HeaderModifier modifier) {
        List<HeaderValueOption> options = new ArrayList<>();
        modifier.set().forEach(h -> options.add(header(h, HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)));
        modifier.add().forEach(h -> options.add(header(h, HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD)));
        List<String> remove = modifier.remove().stream().map(name -> name.toLowerCase(Locale.ROOT)).toList();
        if (modifier.response()) {
          route.addAllResponseHeadersToAdd(options).addAllResponseHeadersToRemove(remove);
        } else {
          route.addAllRequestHeadersToAdd(options).addAllRequestHeadersToRemove(remove);
        }
      }
    }
  }

  private static HeaderValueOption header(MeshRoute.Header header, HeaderValueOption.HeaderAppendAction append) {
    return HeaderValueOption.newBuilder()
        .setHeader(HeaderValue.newBuilder().setKey(header.name().toLowerCase(Locale.ROOT)).setValue(header.value()))
        .setAppendAction(append)
        .build();
  }

  private static StringMatcher stringMatch(MeshRoute.MatchType type, String value) {
    return type == MeshRoute.MatchType.REGEX
        ? StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(value)).build()
        : StringMatcher.newBuilder().setExact(value).build();
  }

  private static String clusterOf(RouteResolution.Target target) {
    return target.resolved() ? backendName(target.backend()) : ResourceNames.UNRESOLVED_BACKEND;
  }

  private static String backendName(MeshRoute.Backend backend) {
    return ResourceNames.servicePort(backend.service(), backend.port());
  }

  private static String trimTrailingSlashes(String prefix) {
    int end = prefix.length();
    while (end > 0 && prefix.charAt(end - 1) == '/') {
      end--;
    }
    return prefix.substring(0, end);
  }

  private static Duration duration(java.time.Duration duration) {
    return Duration.newBuilder().setSeconds(duration.getSeconds()).setNanos(duration.getNano()).build();
  }
}
