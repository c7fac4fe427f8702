package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.BackendObjectReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Fraction;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCMethodMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeader;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPPathMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPPathModifier;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPQueryParamMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRequestMirrorFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRequestRedirectFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRetry;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteTimeouts;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPURLRewriteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import io.nodemesh.log.SafeText;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.RouteValidation;
import io.nodemesh.model.ObjectKey;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Pure functions from the Gateway API's HTTPRoute and GRPCRoute (gateway.networking.k8s.io/v1) to
 * {@link MeshRoute}. Only parentRefs naming a core Service are kept: a route without one belongs to other
 * controllers (Gateways) and converts to a route with no parents, which the store leaves out of the model.
 *
 * <p>Nothing here trusts the input. Missing optional parts take the Gateway API's defaults; what a CRD's schema
 * would have refused (an unknown match type, a duration outside its grammar, lists far beyond the CRD's bounds)
 * converts to a route {@link MeshRoute#rejectedFor rejected} with the reason, so its status can tell the author.
 * Lists are copied up to {@link #COPY_FACTOR} times the CRD's bound (which {@code RouteValidation} then enforces),
 * never further: an object from an API server without the CRD's schema costs bounded work.
 */
public final class RouteConverters {

  /** Lists are copied up to this many times the CRD's bound, then cut and the route rejected. */
  static final int COPY_FACTOR = 4;
  /** Longest gRPC service or method name read; longer ones cannot make a valid path (1024 characters) anyway. */
  static final int MAX_GRPC_NAME = 1024;
  /**
   * Retries when a retry stanza leaves {@code attempts} out: GEP-1731 leaves it to the implementation, and the
   * mesh's default route retries twice, so a route that asks for retries gets no fewer than one that does not.
   */
  static final int DEFAULT_RETRY_ATTEMPTS = 2;

  /** The Gateway API's Duration (GEP-2257). */
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,5}(h|m|s|ms)){1,4}");
  private static final Pattern DURATION_PART = Pattern.compile("([0-9]{1,5})(ms|h|m|s)");

  private RouteConverters() {}

  /** Converts an HTTPRoute; throws {@link ConversionException} only when it cannot be identified. */
  public static Converted<MeshRoute> httpRoute(HTTPRoute route) {
    ObjectKey key = Converters.namespacedKey(route);
    Context context = new Context(key.namespace());
    List<ParentReference> parentRefs = route.getSpec() == null ? null : route.getSpec().getParentRefs();
    List<HTTPRouteRule> rawRules = route.getSpec() == null ? null : route.getSpec().getRules();
    ImmutableList<MeshRoute.Parent> parents = parents(parentRefs, context);
    ImmutableList.Builder<MeshRoute.Rule> rules = ImmutableList.builder();
    for (HTTPRouteRule rule : bounded(rawRules, RouteValidation.MAX_RULES, "rules", context)) {
      if (rule != null) {
        rules.add(httpRule(rule, context));
      }
    }
    return finish(MeshRoute.Kind.HTTP_ROUTE, route, key, parents, rules.build(), context);
  }

  /**
   * Converts a GRPCRoute; method matches become path matches ({@code /service/method}), so it shares the
   * HTTPRoute's rule shape. Throws {@link ConversionException} only when it cannot be identified.
   */
  public static Converted<MeshRoute> grpcRoute(GRPCRoute route) {
    ObjectKey key = Converters.namespacedKey(route);
    Context context = new Context(key.namespace());
    List<ParentReference> parentRefs = route.getSpec() == null ? null : route.getSpec().getParentRefs();
    List<GRPCRouteRule> rawRules = route.getSpec() == null ? null : route.getSpec().getRules();
    ImmutableList<MeshRoute.Parent> parents = parents(parentRefs, context);
    ImmutableList.Builder<MeshRoute.Rule> rules = ImmutableList.builder();
    for (GRPCRouteRule rule : bounded(rawRules, RouteValidation.MAX_RULES, "rules", context)) {
      if (rule != null) {
        rules.add(grpcRule(rule, context));
      }
    }
    return finish(MeshRoute.Kind.GRPC_ROUTE, route, key, parents, rules.build(), context);
  }

  /** The model key of a route object; throws when name or namespace is missing. */
  public static MeshRoute.Key httpRouteKey(HTTPRoute route) {
    return new MeshRoute.Key(MeshRoute.Kind.HTTP_ROUTE, Converters.namespacedKey(route));
  }

  /** The model key of a route object; throws when name or namespace is missing. */
  public static MeshRoute.Key grpcRouteKey(GRPCRoute route) {
    return new MeshRoute.Key(MeshRoute.Kind.GRPC_ROUTE, Converters.namespacedKey(route));
  }

  /**
   * Parses a Gateway API duration ({@code 10s}, {@code 500ms}, {@code 1h30m}: up to four parts of up to five
   * digits each); throws {@link IllegalArgumentException} with a printable message otherwise.
   */
  static Duration duration(String text) {
    if (text == null || text.length() > 32 || !DURATION.matcher(text).matches()) {
      throw new IllegalArgumentException("duration " + quote(text) + " is not a Gateway API duration (e.g. 10s, 500ms, 1h30m)");
    }
    Duration total = Duration.ZERO;
    java.util.regex.Matcher part = DURATION_PART.matcher(text);
    while (part.find()) {
      long amount = Long.parseLong(part.group(1));
      total = total.plus(switch (part.group(2)) {
        case "h" -> Duration.ofHours(amount);
        case "m" -> Duration.ofMinutes(amount);
        case "s" -> Duration.ofSeconds(amount);
        default -> Duration.ofMillis(amount);
      });
    }
    return total;
  }

  // ---- parts ----

  private static Converted<MeshRoute> finish(MeshRoute.Kind kind, HasMetadata object, ObjectKey key,
      ImmutableList<MeshRoute.Parent> parents, ImmutableList<MeshRoute.Rule> rules, Context context) {
    ObjectMeta meta = object.getMetadata();
    long generation = meta.getGeneration() == null ? 0 : meta.getGeneration();
    MeshRoute route = new MeshRoute(kind, key.namespace(), key.name(), generation,
        creationSeconds(meta.getCreationTimestamp()), parents, rules, null);
    if (context.rejected != null) {
      route = route.rejectedFor(context.rejected);
    }
    return new Converted<>(route, ImmutableList.copyOf(context.problems));
  }

  private static ImmutableList<MeshRoute.Parent> parents(List<ParentReference> refs, Context context) {
    ImmutableList.Builder<MeshRoute.Parent> parents = ImmutableList.builder();
    for (ParentReference ref : bounded(refs, RouteValidation.MAX_PARENTS, "parentRefs", context)) {
      // the spec's defaults are group gateway.networking.k8s.io and kind Gateway: a Service must be named so
      if (ref == null || !"Service".equals(ref.getKind())
          || !("".equals(ref.getGroup()) || "core".equals(ref.getGroup()))) {
        continue;
      }
      if (ref.getName() == null || ref.getName().isEmpty()) {
        context.problems.add("a Service parentRef has no name, skipped");
        continue;
      }
      parents.add(new MeshRoute.Parent(namespaceOr(ref.getNamespace(), context), ref.getName(),
          ref.getPort() == null ? 0 : ref.getPort(), ref.getSectionName()));
    }
    return parents.build();
  }

  private static MeshRoute.Rule httpRule(HTTPRouteRule rule, Context context) {
    ImmutableList.Builder<MeshRoute.Match> matches = ImmutableList.builder();
    for (HTTPRouteMatch match : bounded(rule.getMatches(), RouteValidation.MAX_MATCHES, "matches", context)) {
      if (match != null) {
        matches.add(new MeshRoute.Match(httpPath(match.getPath(), context),
            valueMatches(match.getHeaders(), HTTPHeaderMatch::getName, HTTPHeaderMatch::getType,
                HTTPHeaderMatch::getValue, "header", context),
            match.getMethod(),
            valueMatches(match.getQueryParams(), HTTPQueryParamMatch::getName, HTTPQueryParamMatch::getType,
                HTTPQueryParamMatch::getValue, "query parameter", context)));
      }
    }
    List<MeshRoute.Filter> filters = new ArrayList<>();
    for (HTTPRouteFilter filter : bounded(rule.getFilters(), RouteValidation.MAX_FILTERS, "filters", context)) {
      if (filter != null) {
        filters.add(httpFilter(filter, context));
      }
    }
    ImmutableList.Builder<MeshRoute.Backend> backends = ImmutableList.builder();
    boolean backendFilters = false;
    for (HTTPBackendRef ref : bounded(rule.getBackendRefs(), RouteValidation.MAX_BACKENDS, "backendRefs", context)) {
      if (ref != null) {
        backends.add(backend(ref.getGroup(), ref.getKind(), ref.getNamespace(), ref.getName(), ref.getPort(),
            ref.getWeight(), context));
        backendFilters |= ref.getFilters() != null && !ref.getFilters().isEmpty();
      }
    }
    addCommonUnsupported(filters, backendFilters, rule.getSessionPersistence() != null);
    HTTPRouteTimeouts timeouts = rule.getTimeouts();
    Duration request = timeouts == null ? null : optionalDuration(timeouts.getRequest(), "timeouts.request", context);
    Duration backendRequest = timeouts == null ? null
        : optionalDuration(timeouts.getBackendRequest(), "timeouts.backendRequest", context);
    return new MeshRoute.Rule(matches.build(), ImmutableList.copyOf(filters), backends.build(), request,
        backendRequest, retry(rule.getRetry(), context));
  }

  private static MeshRoute.Rule grpcRule(GRPCRouteRule rule, Context context) {
    ImmutableList.Builder<MeshRoute.Match> matches = ImmutableList.builder();
    for (GRPCRouteMatch match : bounded(rule.getMatches(), RouteValidation.MAX_MATCHES, "matches", context)) {
      if (match != null) {
        matches.add(new MeshRoute.Match(grpcPath(match.getMethod(), context),
            valueMatches(match.getHeaders(), GRPCHeaderMatch::getName, GRPCHeaderMatch::getType,
                GRPCHeaderMatch::getValue, "header", context),
            null, null));
      }
    }
    List<MeshRoute.Filter> filters = new ArrayList<>();
    for (GRPCRouteFilter filter : bounded(rule.getFilters(), RouteValidation.MAX_FILTERS, "filters", context)) {
      if (filter != null) {
        filters.add(grpcFilter(filter, context));
      }
    }
    ImmutableList.Builder<MeshRoute.Backend> backends = ImmutableList.builder();
    boolean backendFilters = false;
    for (GRPCBackendRef ref : bounded(rule.getBackendRefs(), RouteValidation.MAX_BACKENDS, "backendRefs", context)) {
      if (ref != null) {
        backends.add(backend(ref.getGroup(), ref.getKind(), ref.getNamespace(), ref.getName(), ref.getPort(),
            ref.getWeight(), context));
        backendFilters |= ref.getFilters() != null && !ref.getFilters().isEmpty();
      }
    }
    addCommonUnsupported(filters, backendFilters, rule.getSessionPersistence() != null);
    return new MeshRoute.Rule(matches.build(), ImmutableList.copyOf(filters), backends.build(), null, null, null);
  }

  /** Parts we do not serve become filters that make the rule inapplicable, so the status names them. */
  private static void addCommonUnsupported(List<MeshRoute.Filter> filters, boolean backendFilters,
      boolean sessionPersistence) {
    if (backendFilters) {
      filters.add(new MeshRoute.Unsupported("backendRef filters"));
    }
    if (sessionPersistence) {
      filters.add(new MeshRoute.Unsupported("sessionPersistence"));
    }
  }

  private static MeshRoute.PathMatch httpPath(HTTPPathMatch path, Context context) {
    if (path == null) {
      return new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, "/");
    }
    String value = path.getValue() == null ? "/" : path.getValue();
    String type = path.getType() == null ? "PathPrefix" : path.getType();
    return switch (type) {
      case "Exact" -> new MeshRoute.PathMatch(MeshRoute.MatchType.EXACT, value);
      case "PathPrefix" -> new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, value);
      case "RegularExpression" -> new MeshRoute.PathMatch(MeshRoute.MatchType.REGEX, value);
      default -> {
        context.reject("path match type " + quote(type) + " is not Exact, PathPrefix or RegularExpression");
        yield new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, "/");
      }
    };
  }

  /**
   * A gRPC method match as a path match: gRPC requests are {@code POST /service/method}. Literal parts of a
   * regex are quoted, so a service name's dots match only dots.
   */
  private static MeshRoute.PathMatch grpcPath(GRPCMethodMatch method, Context context) {
    if (method == null) {
      return null;
    }
    String service = emptyToNull(method.getService());
    String name = emptyToNull(method.getMethod());
    if ((service != null && service.length() > MAX_GRPC_NAME) || (name != null && name.length() > MAX_GRPC_NAME)) {
      context.reject("gRPC service or method name longer than " + MAX_GRPC_NAME + " characters");
      return null;
    }
    String type = method.getType() == null ? "Exact" : method.getType();
    switch (type) {
      case "Exact" -> {
        if (service != null && name != null) {
          return new MeshRoute.PathMatch(MeshRoute.MatchType.EXACT, "/" + service + "/" + name);
        }
        if (service != null) {
          return new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, "/" + service);
        }
        if (name != null) {
          return new MeshRoute.PathMatch(MeshRoute.MatchType.REGEX,
              "/[^/]+/" + com.google.re2j.Pattern.quote(name));
        }
        return null;
      }
      case "RegularExpression" -> {
        return new MeshRoute.PathMatch(MeshRoute.MatchType.REGEX,
            "/(" + (service == null ? "[^/]+" : service) + ")/(" + (name == null ? "[^/]+" : name) + ")");
      }
      default -> {
        context.reject("gRPC method match type " + quote(type) + " is not Exact or RegularExpression");
        return null;
      }
    }
  }

  private static <T> ImmutableList<MeshRoute.ValueMatch> valueMatches(List<T> raw, Function<T, String> nameOf,
      Function<T, String> typeOf, Function<T, String> valueOf, String what, Context context) {
    ImmutableList.Builder<MeshRoute.ValueMatch> matches = ImmutableList.builder();
    for (T match : bounded(raw, RouteValidation.MAX_HEADERS, what + " matches", context)) {
      if (match == null) {
        continue;
      }
      String type = typeOf.apply(match) == null ? "Exact" : typeOf.apply(match);
      MeshRoute.MatchType matchType = switch (type) {
        case "Exact" -> MeshRoute.MatchType.EXACT;
        case "RegularExpression" -> MeshRoute.MatchType.REGEX;
        default -> {
          context.reject(what + " match type " + quote(type) + " is not Exact or RegularExpression");
          yield MeshRoute.MatchType.EXACT;
        }
      };
      // a null name or value is left for validation, which names the problem
      matches.add(new MeshRoute.ValueMatch(nameOf.apply(match), matchType, valueOf.apply(match)));
    }
    return matches.build();
  }

  private static MeshRoute.Filter httpFilter(HTTPRouteFilter filter, Context context) {
    String type = Objects.requireNonNullElse(filter.getType(), "");
    return switch (type) {
      case "RequestHeaderModifier" -> headerModifier(filter.getRequestHeaderModifier(), false, type, context);
      case "ResponseHeaderModifier" -> headerModifier(filter.getResponseHeaderModifier(), true, type, context);
      case "RequestRedirect" -> redirect(filter.getRequestRedirect(), context);
      case "URLRewrite" -> rewrite(filter.getUrlRewrite(), context);
      case "RequestMirror" -> mirror(filter.getRequestMirror(), context);
      default -> unsupported(type);
    };
  }

  private static MeshRoute.Filter grpcFilter(GRPCRouteFilter filter, Context context) {
    String type = Objects.requireNonNullElse(filter.getType(), "");
    return switch (type) {
      case "RequestHeaderModifier" -> headerModifier(filter.getRequestHeaderModifier(), false, type, context);
      case "ResponseHeaderModifier" -> headerModifier(filter.getResponseHeaderModifier(), true, type, context);
      case "RequestMirror" -> mirror(filter.getRequestMirror(), context);
      default -> unsupported(type);
    };
  }

  private static MeshRoute.Filter unsupported(String type) {
    // the type is reported in status: keep it short and printable whatever the object carried
    return new MeshRoute.Unsupported(type.isEmpty() ? "(no type)" : SafeText.printable(type, 64));
  }

  private static MeshRoute.Filter headerModifier(HTTPHeaderFilter modifier, boolean response, String type,
      Context context) {
    if (modifier == null) {
      context.reject("filter " + type + " has no configuration");
      return new MeshRoute.HeaderModifier(response, null, null, null);
    }
    return new MeshRoute.HeaderModifier(response, headers(modifier.getSet(), "set", context),
        headers(modifier.getAdd(), "add", context),
        bounded(modifier.getRemove(), RouteValidation.MAX_HEADERS, "header removals", context).stream()
            .filter(Objects::nonNull).collect(ImmutableList.toImmutableList()));
  }

  private static ImmutableList<MeshRoute.Header> headers(List<HTTPHeader> raw, String what, Context context) {
    ImmutableList.Builder<MeshRoute.Header> headers = ImmutableList.builder();
    for (HTTPHeader header : bounded(raw, RouteValidation.MAX_HEADERS, "header " + what + " entries", context)) {
      if (header != null) {
        headers.add(new MeshRoute.Header(header.getName(), header.getValue()));
      }
    }
    return headers.build();
  }

  private static MeshRoute.Filter redirect(HTTPRequestRedirectFilter redirect, Context context) {
    if (redirect == null) {
      context.reject("filter RequestRedirect has no configuration");
      return new MeshRoute.Redirect(null, null, 0, null, 302);
    }
    return new MeshRoute.Redirect(redirect.getScheme(), redirect.getHostname(),
        redirect.getPort() == null ? 0 : redirect.getPort(), pathModifier(redirect.getPath()),
        redirect.getStatusCode() == null ? 302 : redirect.getStatusCode());
  }

  private static MeshRoute.Filter rewrite(HTTPURLRewriteFilter rewrite, Context context) {
    if (rewrite == null) {
      context.reject("filter URLRewrite has no configuration");
      return new MeshRoute.UrlRewrite(null, null);
    }
    return new MeshRoute.UrlRewrite(rewrite.getHostname(), pathModifier(rewrite.getPath()));
  }

  /** The value named by {@code type}; without a type, whatever is set (validation refuses both or neither). */
  private static MeshRoute.PathModifier pathModifier(HTTPPathModifier path) {
    if (path == null) {
      return null;
    }
    if ("ReplaceFullPath".equals(path.getType())) {
      return new MeshRoute.PathModifier(path.getReplaceFullPath(), null);
    }
    if ("ReplacePrefixMatch".equals(path.getType())) {
      return new MeshRoute.PathModifier(null, path.getReplacePrefixMatch());
    }
    if (path.getType() != null) {
      return new MeshRoute.PathModifier(null, null);
    }
    return new MeshRoute.PathModifier(path.getReplaceFullPath(), path.getReplacePrefixMatch());
  }

  private static MeshRoute.Filter mirror(HTTPRequestMirrorFilter mirror, Context context) {
    if (mirror == null || mirror.getBackendRef() == null) {
      context.reject("filter RequestMirror has no backendRef");
      return new MeshRoute.Mirror(new MeshRoute.Backend("", "Service", context.namespace, "", 0, 1), 100, 100);
    }
    BackendObjectReference ref = mirror.getBackendRef();
    MeshRoute.Backend backend = backend(ref.getGroup(), ref.getKind(), ref.getNamespace(), ref.getName(),
        ref.getPort(), 1, context);
    Fraction fraction = mirror.getFraction();
    if (mirror.getPercent() != null) {
      return new MeshRoute.Mirror(backend, mirror.getPercent(), 100);
    }
    if (fraction != null) {
      // the spec's default denominator is 100; a missing numerator is left for validation to refuse
      return new MeshRoute.Mirror(backend, fraction.getNumerator() == null ? -1 : fraction.getNumerator(),
          fraction.getDenominator() == null ? 100 : fraction.getDenominator());
    }
    return new MeshRoute.Mirror(backend, 100, 100);
  }

  private static MeshRoute.Backend backend(String group, String kind, String namespace, String name, Integer port,
      Integer weight, Context context) {
    return new MeshRoute.Backend(group, kind, namespaceOr(namespace, context), name == null ? "" : name,
        port == null ? 0 : port, weight == null ? 1 : weight);
  }

  private static MeshRoute.Retry retry(HTTPRouteRetry retry, Context context) {
    if (retry == null) {
      return null;
    }
    List<Integer> rawCodes = retry.getCodes() == null ? List.of() : retry.getCodes();
    if (rawCodes.size() > RouteValidation.MAX_RETRY_CODES) {
      context.reject("more than " + RouteValidation.MAX_RETRY_CODES + " retry codes (" + rawCodes.size() + ")");
      rawCodes = rawCodes.subList(0, RouteValidation.MAX_RETRY_CODES);
    }
    ImmutableList<Integer> codes = rawCodes.stream().filter(Objects::nonNull)
        .collect(ImmutableList.toImmutableList());
    return new MeshRoute.Retry(retry.getAttempts() == null ? DEFAULT_RETRY_ATTEMPTS : retry.getAttempts(), codes,
        optionalDuration(retry.getBackoff(), "retry.backoff", context));
  }

  private static Duration optionalDuration(String text, String what, Context context) {
    if (text == null) {
      return null;
    }
    try {
      return duration(text);
    } catch (IllegalArgumentException e) {
      context.reject(what + ": " + e.getMessage());
      return null;
    }
  }

  private static long creationSeconds(String timestamp) {
    if (timestamp == null || timestamp.isEmpty() || timestamp.length() > 64) {
      return 0;
    }
    try {
      return OffsetDateTime.parse(timestamp).toEpochSecond();
    } catch (DateTimeParseException e) {
      return 0;
    }
  }

  /**
   * At most {@link #COPY_FACTOR} times {@code crdMax} elements of {@code list} (a view, not a copy); a longer list
   * rejects the route.
   */
  private static <T> List<T> bounded(List<T> list, int crdMax, String what, Context context) {
    if (list == null) {
      return List.of();
    }
    int limit = crdMax * COPY_FACTOR;
    if (list.size() > limit) {
      context.reject("more than " + crdMax + " " + what + " (" + list.size() + ")");
      return list.subList(0, limit);
    }
    return list;
  }

  private static String namespaceOr(String namespace, Context context) {
    return namespace == null || namespace.isEmpty() ? context.namespace : namespace;
  }

  private static String emptyToNull(String value) {
    return value == null || value.isEmpty() ? null : value;
  }

  private static String quote(String value) {
    return "'" + SafeText.printable(value, 40) + "'";
  }

  /** What one conversion collects: the route's namespace, the first reason to reject it, skipped parts. */
  private static final class Context {
    final String namespace;
    final List<String> problems = new ArrayList<>();
    String rejected;

    Context(String namespace) {
      this.namespace = namespace;
    }

    void reject(String reason) {
      if (rejected == null) {
        rejected = reason;
      }
    }
  }
}
