package io.nodemesh.k8s;

import java.time.Duration;
import java.util.Objects;

/**
 * How the {@link RouteStatusWriter} elects its leader and retries. The app's {@code Settings} declares the
 * matching flags once and builds this record from them.
 *
 * @param leaseNamespace namespace of the coordination.k8s.io Lease the replicas compete for
 * @param leaseName name of that Lease
 * @param identity this replica's name in the Lease (its pod name)
 * @param leaseDuration how long a leader's claim holds without renewal: the longest time without a status
 *     writer after a leader vanished
 * @param renewDeadline how long the leader keeps trying to renew before it gives leadership up
 * @param retryPeriod how often candidates try to acquire, and the leader renews
 * @param retryFirst first pause before a failed status write is tried again (doubled per failure)
 * @param retryMax longest such pause
 */
public record RouteStatusOptions(String leaseNamespace, String leaseName, String identity, Duration leaseDuration,
    Duration renewDeadline, Duration retryPeriod, Duration retryFirst, Duration retryMax) {

  public static final Duration DEFAULT_LEASE_DURATION = Duration.ofSeconds(15);
  public static final Duration DEFAULT_RENEW_DEADLINE = Duration.ofSeconds(10);
  public static final Duration DEFAULT_RETRY_PERIOD = Duration.ofSeconds(2);
  public static final Duration DEFAULT_RETRY_FIRST = Duration.ofMillis(200);
  public static final Duration DEFAULT_RETRY_MAX = Duration.ofSeconds(30);

  public RouteStatusOptions {
    Objects.requireNonNull(leaseNamespace, "leaseNamespace");
    Objects.requireNonNull(leaseName, "leaseName");
    Objects.requireNonNull(identity, "identity");
    Objects.requireNonNull(leaseDuration, "leaseDuration");
    Objects.requireNonNull(renewDeadline, "renewDeadline");
    Objects.requireNonNull(retryPeriod, "retryPeriod");
    Objects.requireNonNull(retryFirst, "retryFirst");
    Objects.requireNonNull(retryMax, "retryMax");
    if (leaseNamespace.isEmpty() || leaseName.isEmpty() || identity.isEmpty()) {
      throw new IllegalArgumentException("lease namespace, lease name and identity must not be empty");
    }
    // fabric8's (and client-go's) rule: the leader must give up before another may take over
    if (leaseDuration.compareTo(renewDeadline) <= 0 || renewDeadline.compareTo(retryPeriod) <= 0
        || retryPeriod.isNegative() || retryPeriod.isZero()) {
      throw new IllegalArgumentException("leader election needs lease duration > renew deadline > retry period > 0,"
          + " got " + leaseDuration + ", " + renewDeadline + ", " + retryPeriod);
    }
    if (retryFirst.isNegative() || retryFirst.isZero() || retryMax.compareTo(retryFirst) < 0) {
      throw new IllegalArgumentException("status write retry needs 0 < first <= max");
    }
  }

  /** The defaults with this Lease and identity. */
  public static RouteStatusOptions of(String leaseNamespace, String leaseName, String identity) {
    return new RouteStatusOptions(leaseNamespace, leaseName, identity, DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE,
        DEFAULT_RETRY_PERIOD, DEFAULT_RETRY_FIRST, DEFAULT_RETRY_MAX);
  }

  /** These options with other leader election timings. */
  public RouteStatusOptions withTimings(Duration lease, Duration renew, Duration retry) {
    return new RouteStatusOptions(leaseNamespace, leaseName, identity, lease, renew, retry, retryFirst, retryMax);
  }
}
