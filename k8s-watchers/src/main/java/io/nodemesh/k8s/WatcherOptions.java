package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import java.time.Duration;
import java.util.Objects;

/**
 * Every tuning knob of the watcher layer, declared once with its default and description so that the app can
 * expose each as a flag and show it at {@code /debug/config}.
 *
 * @param debounceQuiet flush a batch once no change arrived for this long (default {@value #DEFAULT_DEBOUNCE_QUIET_MS}
 *     ms). Short because the target is pod-to-ACK p99 <= 50 ms; bursts are still merged.
 * @param debounceMax flush a batch at the latest this long after its first change, even under a steady stream of
 *     changes (default {@value #DEFAULT_DEBOUNCE_MAX_MS} ms). Bounds latency under churn.
 * @param resyncPeriod how often informers replay their cache to the handlers (default {@value
 *     #DEFAULT_RESYNC_PERIOD_S} s; zero disables). A replay costs a conversion per object and emits no change
 *     unless content differs; it only repairs a missed or mis-handled event.
 */
public record WatcherOptions(Duration debounceQuiet, Duration debounceMax, Duration resyncPeriod) {

  public static final long DEFAULT_DEBOUNCE_QUIET_MS = 10;
  public static final long DEFAULT_DEBOUNCE_MAX_MS = 100;
  public static final long DEFAULT_RESYNC_PERIOD_S = 300;

  public static final WatcherOptions DEFAULTS =
      new WatcherOptions(
          Duration.ofMillis(DEFAULT_DEBOUNCE_QUIET_MS),
          Duration.ofMillis(DEFAULT_DEBOUNCE_MAX_MS),
          Duration.ofSeconds(DEFAULT_RESYNC_PERIOD_S));

  /** Name, default and description of every knob, for flags and {@code /debug/config}. */
  public static final ImmutableList<Knob> KNOBS =
      ImmutableList.of(
          new Knob("debounce-quiet", DEFAULT_DEBOUNCE_QUIET_MS + "ms",
              "Flush a change batch once no change arrived for this long."),
          new Knob("debounce-max", DEFAULT_DEBOUNCE_MAX_MS + "ms",
              "Flush a change batch at the latest this long after its first change."),
          new Knob("informer-resync", DEFAULT_RESYNC_PERIOD_S + "s",
              "How often informers replay their cache (0 disables); unchanged content emits nothing."));

  public WatcherOptions {
    Objects.requireNonNull(debounceQuiet, "debounceQuiet");
    Objects.requireNonNull(debounceMax, "debounceMax");
    Objects.requireNonNull(resyncPeriod, "resyncPeriod");
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
    return new WatcherOptions(quiet, max, resyncPeriod);
  }

  public WatcherOptions withResyncPeriod(Duration period) {
    return new WatcherOptions(debounceQuiet, debounceMax, period);
  }

  /** One knob: its flag name, default value as text, and what it does. */
  public record Knob(String name, String defaultValue, String description) {}
}
