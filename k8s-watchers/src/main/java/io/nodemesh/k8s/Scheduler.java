package io.nodemesh.k8s;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A clock plus a serial executor with delayed tasks: everything a time-driven component needs, injectable so
 * tests can drive time by hand. All tasks of one scheduler run one at a time, in one context.
 */
public interface Scheduler {

  /** Monotonic time in nanoseconds, like {@link System#nanoTime()}. */
  long nanoTime();

  /** Runs a task in the scheduler's context as soon as possible. */
  void execute(Runnable task);

  /** Runs a task in the scheduler's context after {@code delayNanos}. */
  void schedule(Runnable task, long delayNanos);

  /** Throws when the caller is not in the scheduler's context (thread-confinement assertion). */
  void checkInContext();

  /** Releases threads, if any; tasks handed over afterwards are dropped (a producer may still be finishing). */
  default void shutdown() {}

  /** A scheduler backed by one daemon thread and the system clock. */
  static Scheduler singleThread(String threadName) {
    return new SingleThreadScheduler(threadName);
  }

  /** The production {@link Scheduler}: one daemon thread, {@link System#nanoTime()}. */
  final class SingleThreadScheduler implements Scheduler {
    private final ScheduledExecutorService executor;
    private volatile Thread thread;

    private SingleThreadScheduler(String threadName) {
      ScheduledThreadPoolExecutor pool = new ScheduledThreadPoolExecutor(1, runnable -> {
        Thread created = new Thread(runnable, threadName);
        created.setDaemon(true);
        thread = created;
        return created;
      });
      pool.setRemoveOnCancelPolicy(true);
      this.executor = pool;
    }

    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void execute(Runnable task) {
      try {
        executor.execute(task);
      } catch (RejectedExecutionException e) {
        dropIfShutDown(e);
      }
    }

    @Override
    public void schedule(Runnable task, long delayNanos) {
      try {
        executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        dropIfShutDown(e);
      }
    }

    /** On shutdown an upstream stage may deliver once more (the state store drains its last batch): drop it. */
    private void dropIfShutDown(RejectedExecutionException e) {
      if (!executor.isShutdown()) {
        throw e;
      }
    }

    @Override
    public void checkInContext() {
      if (Thread.currentThread() != thread) {
        throw new IllegalStateException("not on scheduler thread " + thread + ": " + Thread.currentThread());
      }
    }

    @Override
    public void shutdown() {
      executor.shutdownNow();
    }
  }
}
