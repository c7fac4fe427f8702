package io.nodemesh.xds;

import java.util.function.LongSupplier;

/**
 * A token bucket for one stream's requests: {@code burst} tokens, refilled at {@code perSecond}. The
 * stream asks for a token before it reads the next request; without one it reads later, so a flooding
 * client is slowed by HTTP/2 flow control rather than queued in memory. Confined to the stream's executor.
 */
final class RequestRateLimiter {

  private final double perNano;
  private final double capacity;
  private final LongSupplier nanos;
  private double tokens;
  private long refilledAt;

  RequestRateLimiter(double perSecond, int burst, LongSupplier nanos) {
    this.perNano = perSecond / 1e9;
    this.capacity = Math.max(1, burst);
    this.nanos = nanos;
    this.tokens = capacity;
    this.refilledAt = nanos.getAsLong();
  }

  /** Takes a token and returns 0, or returns the nanoseconds until one will be available (taking none). */
  long acquireOrDelay() {
    long now = nanos.getAsLong();
    tokens = Math.min(capacity, tokens + (now - refilledAt) * perNano);
    refilledAt = now;
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((1 - tokens) / perNano));
  }
}
