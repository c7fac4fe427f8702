package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.UInt64Value;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit;
import io.envoyproxy.envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit;
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
  /** Asked for by pod owners; not enforced yet (docs/FAIRNESS.md), so a pod that sets it is told. */
  public static final String MAX_REQUEST_RATE_ANNOTATION = "nodemesh.io/max-request-rate";
  public static final PodLimits NONE = new PodLimits(0, 0);
  /** The largest value a flag or annotation may give: beyond it a limit protects nothing. */
  public static final int MAX_VALUE = 10_000_000;
  static final String CONNECTION_LIMIT_FILTER = "envoy.filters.network.connection_limit";
  static final String LOCAL_RATE_LIMIT_FILTER = "envoy.filters.network.local_ratelimit";
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
      problems.accept(MAX_REQUEST_RATE_ANNOTATION + " is not enforced: HTTP requests have no per-pod budget yet"
          + " (docs/FAIRNESS.md); the pod's connection limits apply");
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
  ImmutableList<Filter> filters(PodInfo pod) {
    if (!any()) {
      return ImmutableList.of();
    }
    ImmutableList.Builder<Filter> filters = ImmutableList.builder();
    String statPrefix = ResourceNames.statPrefix(ResourceNames.outboundListener(pod.key()));
    if (maxConnectionRate > 0) {
      filters.add(EnvoyBuilders.networkFilter(LOCAL_RATE_LIMIT_FILTER, LocalRateLimit.newBuilder()
          .setStatPrefix(statPrefix)
          .setTokenBucket(TokenBucket.newBuilder()
              .setMaxTokens(maxConnectionRate)
              .setTokensPerFill(EnvoyBuilders.uint32(maxConnectionRate))
              .setFillInterval(EnvoyBuilders.duration(FILL_INTERVAL)))
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
