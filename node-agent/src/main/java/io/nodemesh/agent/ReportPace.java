package io.nodemesh.agent;

/**
 * How soon the agent reports pins again while pods that started without redirect (fail-open) wait for their
 * listener: fast at first, since the listener usually follows within a few pushes, then doubling up to a ceiling,
 * so a listener that never comes costs one report per ceiling instead of fifty a second. Thread-safe.
 */
final class ReportPace {

  private final long firstMillis;
  private final long maxMillis;
  private long nextMillis;

  ReportPace(long firstMillis, long maxMillis) {
    this.firstMillis = firstMillis;
    this.maxMillis = maxMillis;
    this.nextMillis = firstMillis;
  }

  /** Another pod started waiting: back to the fast pace. */
  synchronized void reset() {
    nextMillis = firstMillis;
  }

  /** The wait before the next report; each call doubles the following one, up to the ceiling. */
  synchronized long next() {
    long now = nextMillis;
    nextMillis = Math.min(maxMillis, nextMillis * 2);
    return now;
  }
}
