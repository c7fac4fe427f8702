package io.nodemesh.k8s;

import java.time.Duration;
import java.util.Objects;

/**
 * The tuning knobs of the watcher layer with their defaults. The app's {@code Settings} declares the matching
 * flags (name, description) once and builds this record from them.
 *
 * @param debounceQuiet flush a batch once no change arrived for this long (default {@value #DEFAULT_DEBOUNCE_QUIET_MS}
 *     ms). Short because the target is pod-to-ACK p99 <= 50 ms; bursts are still merged (a burst streamed by the
 *     watch arrives well under a millisecond apart).
 * @param debounceMax flush a batch at the latest this long after its first change, even under a steady stream of
 *     changes (default {@value #DEFAULT_DEBOUNCE_MAX_MS} ms). Bounds latency under churn: at 100 pod changes/s
 *     (mean gap 10 ms) a quiet period of 10 ms rarely elapses, so most batches wait for this maximum; the
 *     translation pipeline itself merges whatever arrives while it is busy, so a short maximum costs no
 *     throughput (docs/BENCHMARKS.md).
 * @param resyncPeriod how often informers replay their cache to the handlers (default {@value
 *     #DEFAULT_RESYNC_PERIOD_S} s; zero disables). A replay costs a conversion per object and emits no change
 *     unless content differs; it only repairs a missed or mis-handled event.
 * @param routeDiscoveryInterval how often to look again for HTTPRoute/GRPCRoute when the API server does not serve
 *     them or we may not list them (default {@value #DEFAULT_ROUTE_DISCOVERY_S} s): CRDs and RBAC are often
 *     installed after the control plane, and one discovery request a minute costs the API server nothing
 */
public record WatcherOptions(Duration debounceQuiet, Duration debounceMax, Duration resyncPeriod,
    Duration routeDiscoveryInterval) {

  public static final long DEFAULT_DEBOUNCE_QUIET_MS = 2;
  public static final long DEFAULT_DEBOUNCE_MAX_MS = 20;
  public static final long DEFAULT_RESYNC_PERIOD_S = 300;
  public static final long DEFAULT_ROUTE_DISCOVERY_S = 60;

  public static final WatcherOptions DEFAULTS =
      new WatcherOptions(
          Duration.ofMillis(DEFAULT_DEBOUNCE_QUIET_MS),
          Duration.ofMillis(DEFAULT_DEBOUNCE_MAX_MS),
          Duration.ofSeconds(DEFAULT_RESYNC_PERIOD_S),
          Duration.ofSeconds(DEFAULT_ROUTE_DISCOVERY_S));

  public WatcherOptions {
    Objects.requireNonNull(debounceQuiet, "debounceQuiet");
    Objects.requireNonNull(debounceMax, "debounceMax");
    Objects.requireNonNull(resyncPeriod, "resyncPeriod");
    Objects.requireNonNull(routeDiscoveryInterval, "routeDiscoveryInterval");
    if (routeDiscoveryInterval.compareTo(Duration.ofMillis(10)) < 0) {
      throw new IllegalArgumentException("route discovery interval must be at least 10ms: " + routeDiscoveryInterval);
    }
    if (debounceQuiet.isNegative() || debounceMax.isNegative() || resyncPeriod.isNegative()) {
      throw new IllegalArgumentException("watcher durations must not be negative: " + this);
    }
    if (debounceMax.compareTo(debounceQuiet) < 0) {
      throw new IllegalArgumentException(
          "debounce max (" + debounceMax + ") must not be shorter than debounce quiet (" + debounceQuiet + ")");
    }
    if (!resyncPeriod.isZero() && resyncPeriod.compareTo(Duration.ofSeconds(1)) < 0) {
      // fabric8 silently raises shorter periods to 1 s; fail loudly instead
      throw new IllegalArgumentException("informer resync period must be 0 or at least 1s: " + resyncPeriod);
    }
  }

  public WatcherOptions withDebounce(Duration quiet, Duration max) {
    return new WatcherOptions(quiet, max, resyncPeriod, routeDiscoveryInterval);
  }

  public WatcherOptions withResyncPeriod(Duration period) {
    return new WatcherOptions(debounceQuiet, debounceMax, period, routeDiscoveryInterval);
  }

  public WatcherOptions withRouteDiscoveryInterval(Duration interval) {
    return new WatcherOptions(debounceQuiet, debounceMax, resyncPeriod, interval);
  }
}
