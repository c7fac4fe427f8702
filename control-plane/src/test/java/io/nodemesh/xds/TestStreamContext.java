package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import io.nodemesh.log.LogThrottle;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** A {@link StreamContext} without a server, so stream parts can be tested alone; timers are recorded, never run. */
final class TestStreamContext implements StreamContext {

  /** A timer that never fires by itself; the test runs its task when it wants. */
  static final class Timer extends CompletableFuture<Void> implements ScheduledFuture<Void> {
    final Runnable task;
    final long delayNanos;

    Timer(Runnable task, long delayNanos) {
      this.task = task;
      this.delayNanos = delayNanos;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(delayNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed other) {
      return Long.compare(delayNanos, other.getDelay(TimeUnit.NANOSECONDS));
    }
  }

  private final XdsServerOptions options;
  private final XdsMetrics metrics = new XdsMetrics();
  private final Quarantine quarantine = new Quarantine(16, 64);
  private final LogThrottle limitLog = new LogThrottle(XdsTunables.LIMIT_LOG_INTERVAL_MILLIS);
  private final ResourceStore store = new ResourceStore();
  final List<Timer> timers = new ArrayList<>();
  final List<AdsStream<?, ?>> registered = new ArrayList<>();

  TestStreamContext(XdsServerOptions options) {
    this.options = options;
  }

  @Override
  public XdsServerOptions options() {
    return options;
  }

  @Override
  public XdsMetrics metrics() {
    return metrics;
  }

  @Override
  public Quarantine quarantine() {
    return quarantine;
  }

  @Override
  public XdsEventListener listener() {
    return XdsEventListener.NONE;
  }

  @Override
  public Clock clock() {
    return Clock.fixed(Instant.ofEpochMilli(1_000_000), ZoneOffset.UTC);
  }

  @Override
  public LogThrottle limitLog() {
    return limitLog;
  }

  @Override
  public StoreSnapshot snapshot() {
    return store.snapshot();
  }

  @Override
  public LayerChange layerChanges() {
    return store.layerChanges();
  }

  @Override
  public synchronized ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    Timer timer = new Timer(task, delayNanos);
    timers.add(timer);
    return timer;
  }

  @Override
  public ImmutableSet<String> internNames(ImmutableSet<String> names) {
    return names;
  }

  @Override
  public synchronized void register(AdsStream<?, ?> stream) {
    registered.add(stream);
  }

  @Override
  public synchronized void unregister(AdsStream<?, ?> stream) {
    registered.remove(stream);
  }
}
