package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.UInt64Value;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.TokenBucket;
import io.nodemesh.log.SafeText;
import io.nodemesh.model.PodInfo;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * What one pod may take of its node's shared Envoy (docs/FAIRNESS.md): concurrent outbound connections and new
 * connections per second, enforced on the pod's own listener. 0 means no limit.
 *
 * <p>The control plane's flags set the node-wide default, which is also the ceiling: a pod's annotations
 * ({@code nodemesh.io/max-connections}, {@code nodemesh.io/max-connection-rate}) may lower its limits, or set
 * them where no default exists, but never raise them above the default. The annotations belong to the pod's
 * owner, the very party the limits protect the neighbours from.
 *
 * @param maxConnections concurrent connections per filter chain of the pod's listener (Envoy's
 *     {@code connection_limit} counts per chain: one for the service layer, one for everything else, and one per
 *     service port for a scoped pod)
 * @param maxConnectionRate new connections per second over the whole listener (one token bucket per pod)
 */
public record PodLimits(int maxConnections, int maxConnectionRate) {

  public static final String MAX_CONNECTIONS_ANNOTATION = "nodemesh.io/max-connections";
  public static final String MAX_CONNECTION_RATE_ANNOTATION = "nodemesh.io/max-connection-rate";
  /** Asked for by pod owners; no per-pod override exists (docs/FAIRNESS.md), so a pod that sets it is told. */
  public static final String MAX_REQUEST_RATE_ANNOTATION = "nodemesh.io/max-request-rate";
  public static final PodLimits NONE = new PodLimits(0, 0);
  /** The largest value a flag or annotation may give: beyond it a limit protects nothing. */
  public static final int MAX_VALUE = 10_000_000;
  static final String CONNECTION_LIMIT_FILTER = "envoy.filters.network.connection_limit";
  static final String LOCAL_RATE_LIMIT_FILTER = "envoy.filters.network.local_ratelimit";
  static final String HTTP_LOCAL_RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
  private static final Duration FILL_INTERVAL = Duration.ofSeconds(1);

  public PodLimits {
    check("max connections", maxConnections);
    check("max connection rate", maxConnectionRate);
  }

  private static void check(String what, int value) {
    if (value < 0 || value > MAX_VALUE) {
      throw new IllegalArgumentException(what + " must be 0 (no limit) to " + MAX_VALUE + ": " + value);
    }
  }

  /** Whether any limit applies. */
  public boolean any() {
    return maxConnections > 0 || maxConnectionRate > 0;
  }

  /**
   * The pod's limits: {@code defaults} narrowed by its annotations. An annotation that does not parse, or that
   * would raise a limit above its default, is reported to {@code problems} and the default is kept.
   */
  public static PodLimits forPod(PodInfo pod, PodLimits defaults, Consumer<String> problems) {
    if (pod.annotations().containsKey(MAX_REQUEST_RATE_ANNOTATION)) {
      problems.accept(MAX_REQUEST_RATE_ANNOTATION + " is not enforced: HTTP requests are limited per connection by"
          + " the node-wide --pod-max-request-rate-per-connection, with no per-pod override (docs/FAIRNESS.md)");
    }
    return new PodLimits(
        annotated(pod, MAX_CONNECTIONS_ANNOTATION, defaults.maxConnections, problems),
        annotated(pod, MAX_CONNECTION_RATE_ANNOTATION, defaults.maxConnectionRate, problems));
  }

  private static int annotated(PodInfo pod, String annotation, int ceiling, Consumer<String> problems) {
    String raw = pod.annotations().get(annotation);
    if (raw == null) {
      return ceiling;
    }
    String value = raw.strip();
    if (value.isEmpty() || value.length() > 8 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
      problems.accept(annotation + " must be a whole number from 1 to " + MAX_VALUE + ", not '"
          + SafeText.printable(value, 40) + "'; " + describe(ceiling) + " kept");
      return ceiling;
    }
    int parsed = Integer.parseInt(value);
    if (parsed < 1 || parsed > MAX_VALUE) {
      problems.accept(annotation + " must be from 1 to " + MAX_VALUE + ", not " + parsed + "; " + describe(ceiling)
          + " kept");
      return ceiling;
    }
    if (ceiling > 0 && parsed > ceiling) {
      problems.accept(annotation + "=" + parsed + " is above the node-wide limit " + ceiling
          + " (a pod may only lower it); " + ceiling + " kept");
      return ceiling;
    }
    return parsed;
  }

  private static String describe(int ceiling) {
    return ceiling == 0 ? "no limit" : "the node-wide limit " + ceiling;
  }

  /**
   * The network filters that enforce these limits, first on every chain of the pod's listener that carries
   * traffic: the rate limit before the connection count, so a connection refused for its rate is never counted.
   * Both count under the pod's stat prefix, so an operator sees which pod hit a limit.
   */
  /**
   * The HTTP filter that limits requests per second on each downstream connection of an HTTP service port's
   * connection manager (excess: 429). The connection manager of the shared service layer serves every pod, and
   * Envoy's per-value buckets need an API field our Envoy API lacks (docs/FAIRNESS.md), so the bucket is per
   * connection; a pod's connection cap turns it into a per-pod bound.
   */
  static HttpFilter requestRateFilter(String statPrefix, int requestsPerSecond) {
    RuntimeFractionalPercent always = RuntimeFractionalPercent.newBuilder()
        .setDefaultValue(FractionalPercent.newBuilder().setNumerator(100)
            .setDenominator(FractionalPercent.DenominatorType.HUNDRED))
        .build();
    return HttpFilter.newBuilder()
        .setName(HTTP_LOCAL_RATE_LIMIT_FILTER)
        .setTypedConfig(Any.pack(io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            .newBuilder()
            .setStatPrefix(statPrefix)
            .setTokenBucket(bucket(requestsPerSecond))
            // without both at 100 % the filter only counts
            .setFilterEnabled(always.toBuilder().setRuntimeKey("nodemesh.request_rate_per_connection.enabled"))
            .setFilterEnforced(always.toBuilder().setRuntimeKey("nodemesh.request_rate_per_connection.enforced"))
            .setLocalRateLimitPerDownstreamConnection(true)
            .build()))
        .build();
  }

  private static TokenBucket bucket(int perSecond) {
    return TokenBucket.newBuilder()
        .setMaxTokens(perSecond)
        .setTokensPerFill(EnvoyBuilders.uint32(perSecond))
        .setFillInterval(EnvoyBuilders.duration(FILL_INTERVAL))
        .build();
  }

  ImmutableList<Filter> filters(PodInfo pod) {
    if (!any()) {
      return ImmutableList.of();
    }
    ImmutableList.Builder<Filter> filters = ImmutableList.builder();
    String statPrefix = ResourceNames.statPrefix(ResourceNames.outboundListener(pod.key()));
    if (maxConnectionRate > 0) {
      filters.add(EnvoyBuilders.networkFilter(LOCAL_RATE_LIMIT_FILTER, LocalRateLimit.newBuilder()
          .setStatPrefix(statPrefix)
          .setTokenBucket(bucket(maxConnectionRate))
          // one bucket for all chains of the pod's listener: Envoy shares buckets with the same key and config
          .setShareKey(ResourceNames.outboundListener(pod.key()))
          .build()));
    }
    if (maxConnections > 0) {
      filters.add(EnvoyBuilders.networkFilter(CONNECTION_LIMIT_FILTER, ConnectionLimit.newBuilder()
          .setStatPrefix(statPrefix)
          .setMaxConnections(UInt64Value.of(maxConnections))
          .build()));
    }
    return filters.build();
  }
}
