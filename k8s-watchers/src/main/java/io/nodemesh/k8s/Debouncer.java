package io.nodemesh.k8s;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Merges state updates into batches: a batch is flushed once no update arrived for the quiet period, or at
 * the latest the maximum delay after its first update, so a burst becomes one batch and a steady stream still
 * flows. A flushed batch carries the latest state and the union of the changes, with the earliest event time.
 *
 * <p>Thread-safety: {@link #accept} and {@link #subscribe} may be called from any thread; the pending batch is
 * confined to the scheduler's context, where subscribers are called too.
 */
public final class Debouncer implements Consumer<StateUpdate>, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Debouncer.class);

  private final long quietNanos;
  private final long maxNanos;
  private final Scheduler scheduler;
  private final List<Consumer<StateUpdate>> subscribers = new CopyOnWriteArrayList<>();
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong updatesReceived = new AtomicLong();

  // ---- confined to the scheduler ----
  private StateUpdate pending;
  private Change.Builder pendingChange;
  private long firstNanos;
  private long lastNanos;
  private boolean timerArmed;

  public Debouncer(Duration quiet, Duration max, Scheduler scheduler) {
    if (quiet.isNegative() || max.compareTo(quiet) < 0) {
      throw new IllegalArgumentException("need 0 <= quiet <= max, got quiet " + quiet + ", max " + max);
    }
    this.quietNanos = quiet.toNanos();
    this.maxNanos = max.toNanos();
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
  }

  /** A debouncer with the options' quiet period and maximum delay on its own thread. */
  public static Debouncer create(WatcherOptions options) {
    return new Debouncer(options.debounceQuiet(), options.debounceMax(), Scheduler.singleThread("nodemesh-debounce"));
  }

  /** Registers a consumer of flushed batches; it is called in the scheduler's context. */
  public void subscribe(Consumer<StateUpdate> subscriber) {
    subscribers.add(Objects.requireNonNull(subscriber, "subscriber"));
  }

  /** Batches flushed so far. */
  public long batchesFlushed() {
    return batches.get();
  }

  /** Updates received so far. */
  public long updatesReceived() {
    return updatesReceived.get();
  }

  @Override
  public void accept(StateUpdate update) {
    Objects.requireNonNull(update, "update");
    updatesReceived.incrementAndGet();
    scheduler.execute(() -> add(update));
  }

  @Override
  public void close() {
    scheduler.shutdown();
  }

  private void add(StateUpdate update) {
    scheduler.checkInContext();
    long now = scheduler.nanoTime();
    if (pending == null) {
      firstNanos = now;
      pendingChange = Change.builder();
    }
    pending = update;
    pendingChange.add(update.change());
    lastNanos = now;
    if (!timerArmed) {
      timerArmed = true;
      scheduler.schedule(this::onTimer, quietNanos);
    }
  }

  private void onTimer() {
    scheduler.checkInContext();
    timerArmed = false;
    if (pending == null) {
      return;
    }
    long now = scheduler.nanoTime();
    long quietDeadline = lastNanos + quietNanos;
    long maxDeadline = firstNanos + maxNanos;
    if (now - quietDeadline >= 0 || now - maxDeadline >= 0) {
      flush();
      return;
    }
    // updates kept arriving: wait for the earlier of quiet-after-last and max-after-first
    long deadline = quietDeadline - maxDeadline <= 0 ? quietDeadline : maxDeadline;
    timerArmed = true;
    scheduler.schedule(this::onTimer, deadline - now);
  }

  private void flush() {
    StateUpdate batch = new StateUpdate(pending.state(), pendingChange.build(), pending.generation());
    pending = null;
    pendingChange = null;
    batches.incrementAndGet();
    for (Consumer<StateUpdate> subscriber : subscribers) {
      try {
        subscriber.accept(batch);
      } catch (RuntimeException e) {
        log.error("Batch subscriber {} failed on generation {}", subscriber, batch.generation(), e);
      }
    }
  }
}
