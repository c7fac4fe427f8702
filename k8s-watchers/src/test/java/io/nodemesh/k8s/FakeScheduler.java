package io.nodemesh.k8s;

import java.time.Duration;
import java.util.PriorityQueue;

/** A {@link Scheduler} whose clock moves only when a test advances it; tasks run on the test thread. */
final class FakeScheduler implements Scheduler {

  private record Timed(long dueNanos, long sequence, Runnable task) {}

  private final PriorityQueue<Timed> timers =
      new PriorityQueue<>((a, b) -> a.dueNanos != b.dueNanos
          ? Long.compare(a.dueNanos, b.dueNanos) : Long.compare(a.sequence, b.sequence));
  private long now = 1_000_000_000L;
  private long sequence;

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public void execute(Runnable task) {
    task.run();
  }

  @Override
  public void schedule(Runnable task, long delayNanos) {
    timers.add(new Timed(now + Math.max(0, delayNanos), sequence++, task));
  }

  @Override
  public void checkInContext() {}

  /** Moves the clock forward, running every timer that falls due, in order, at its due time. */
  void advance(Duration duration) {
    long target = now + duration.toNanos();
    while (!timers.isEmpty() && timers.peek().dueNanos <= target) {
      Timed next = timers.poll();
      now = next.dueNanos;
      next.task.run();
    }
    now = target;
  }

  int pendingTimers() {
    return timers.size();
  }
}
