package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.nodemesh.model.TrafficRedirect;
import java.time.Duration;
import java.util.Objects;

/**
 * The knobs that shape generated Envoy resources. Defaults follow ARCHITECTURE.md §5; the app layer exposes each one
 * as a flag.
 *
 * @param upstreamBinding shared clusters with per-connection netns, or per-pod clusters
 * @param bufferLimitBytes per_connection_buffer_limit_bytes on every listener and cluster
 * @param soMark SO_MARK set on Envoy's upstream sockets so the pod's redirect rule skips them
 * @param capturePort the port of the per-pod outbound listener that redirected traffic lands on
 * @param connectTimeout upstream connect timeout of every cluster
 * @param serviceCidrs the cluster's service CIDRs ({@code 10.96.0.0/12}, {@code fd00:10:96::/112}): a pod
 *     listener sends what is addressed to them to the service layer; empty: it lists every ClusterIP instead,
 *     which grows every pod listener with the catalogue
 * @param podLimits every pod's limits on the node's Envoy unless its annotations lower them ({@link PodLimits})
 * @param requestRatePerConnection HTTP requests per second on one connection of a pod to an HTTP service port
 *     (0: no limit); with the pod's connection cap it bounds what one pod can send (docs/FAIRNESS.md)
 */
public record TranslatorOptions(
    UpstreamBinding upstreamBinding, int bufferLimitBytes, int soMark, int capturePort, Duration connectTimeout,
    ImmutableList<String> serviceCidrs, PodLimits podLimits, int requestRatePerConnection) {

  public static final int DEFAULT_BUFFER_LIMIT_BYTES = 32 * 1024;
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

  public static final TranslatorOptions DEFAULTS =
      new TranslatorOptions(
          UpstreamBinding.SHARED, DEFAULT_BUFFER_LIMIT_BYTES, TrafficRedirect.DEFAULT_SO_MARK,
          TrafficRedirect.DEFAULT_CAPTURE_PORT, DEFAULT_CONNECT_TIMEOUT, ImmutableList.of(), PodLimits.NONE, 0);

  public TranslatorOptions {
    Objects.requireNonNull(upstreamBinding, "upstreamBinding");
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    Objects.requireNonNull(serviceCidrs, "serviceCidrs");
    Objects.requireNonNull(podLimits, "podLimits");
    if (requestRatePerConnection < 0 || requestRatePerConnection > PodLimits.MAX_VALUE) {
      throw new IllegalArgumentException(
          "request rate per connection must be 0 (no limit) to " + PodLimits.MAX_VALUE + ": " + requestRatePerConnection);
    }
    for (String cidr : serviceCidrs) {
      ServiceCidrs.parse(cidr); // throws IllegalArgumentException naming the bad entry
    }
    if (bufferLimitBytes < 1024) {
      throw new IllegalArgumentException("buffer limit must be at least 1024 bytes: " + bufferLimitBytes);
    }
    if (capturePort < 1 || capturePort > 65535) {
      throw new IllegalArgumentException("capture port must be 1-65535: " + capturePort);
    }
    if (connectTimeout.isNegative() || connectTimeout.isZero()) {
      throw new IllegalArgumentException("connect timeout must be positive: " + connectTimeout);
    }
  }

  public TranslatorOptions withUpstreamBinding(UpstreamBinding binding) {
    return new TranslatorOptions(binding, bufferLimitBytes, soMark, capturePort, connectTimeout, serviceCidrs,
        podLimits, requestRatePerConnection);
  }

  public TranslatorOptions withPodLimits(PodLimits limits) {
    return new TranslatorOptions(upstreamBinding, bufferLimitBytes, soMark, capturePort, connectTimeout, serviceCidrs,
        limits, requestRatePerConnection);
  }

  public TranslatorOptions withRequestRatePerConnection(int requestsPerSecond) {
    return new TranslatorOptions(upstreamBinding, bufferLimitBytes, soMark, capturePort, connectTimeout, serviceCidrs,
        podLimits, requestsPerSecond);
  }

  public TranslatorOptions withServiceCidrs(ImmutableList<String> cidrs) {
    return new TranslatorOptions(upstreamBinding, bufferLimitBytes, soMark, capturePort, connectTimeout, cidrs,
        podLimits, requestRatePerConnection);
  }
}
