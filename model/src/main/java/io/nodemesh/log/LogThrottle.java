package io.nodemesh.log;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Lets one kind of warning through at most once per interval and counts what it held back, so a client that
 * repeats a mistake on every request cannot flood the log. Thread-safe and lock-free.
 */
public final class LogThrottle {

  private final long intervalNanos;
  private final LongSupplier nanoClock;
  private final AtomicLong nextAllowedNanos;
  private final AtomicLong suppressed = new AtomicLong();

  /** At most one warning per {@code intervalMillis}, on the system's monotonic clock. */
  public LogThrottle(long intervalMillis) {
    this(intervalMillis, System::nanoTime);
  }

  /** At most one warning per {@code intervalMillis} on {@code nanoClock} (for tests). */
  public LogThrottle(long intervalMillis, LongSupplier nanoClock) {
    this.intervalNanos = intervalMillis * 1_000_000;
    this.nanoClock = nanoClock;
    this.nextAllowedNanos = new AtomicLong(nanoClock.getAsLong());
  }

  /**
   * Returns -1 when this occurrence is held back, else the number of occurrences held back since the last
   * one let through (to append as "(N similar suppressed)").
   */
  public long admit() {
    long now = nanoClock.getAsLong();
    long next = nextAllowedNanos.get();
    if (now - next >= 0 && nextAllowedNanos.compareAndSet(next, now + intervalNanos)) {
      return suppressed.getAndSet(0);
    }
    suppressed.incrementAndGet();
    return -1;
  }

  /** " (N similar suppressed)" for a count from {@link #admit()}, or "" for none. */
  public static String suppressedNote(long count) {
    return count > 0 ? " (" + count + " similar suppressed)" : "";
  }
}
