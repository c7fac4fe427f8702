package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import io.nodemesh.log.LogThrottle;
import java.time.Clock;
import java.util.concurrent.ScheduledFuture;

/**
 * Everything a stream may use of its server: a stream is handed this, never the {@link XdsServer}, so what the two
 * share is written down in one place. Implementations are thread-safe; streams call them from their executor.
 */
interface StreamContext {

  XdsServerOptions options();

  XdsMetrics metrics();

  /** Resources withheld from the clients that rejected them (NACK isolation). */
  Quarantine quarantine();

  XdsEventListener listener();

  Clock clock();

  /** Limits hit (refused streams, full quarantine) are logged at this pace at most, over all clients. */
  LogThrottle limitLog();

  /** The store's current snapshot: what a drain diffs against. */
  StoreSnapshot snapshot();

  /** How the store's shared layers changed, so a diff visits only the changed parts. */
  LayerChange layerChanges();

  /**
   * Runs {@code task} after {@code delayNanos} on the timer thread (it should hand work to a stream executor).
   * Returns the timer to cancel, or null when the server is closed.
   */
  ScheduledFuture<?> schedule(Runnable task, long delayNanos);

  /** One shared copy of a set of subscribed names: Envoys of a cluster largely subscribe to the same ones. */
  ImmutableSet<String> internNames(ImmutableSet<String> names);

  /** An authorized stream starts receiving store changes and shows in the server's status. */
  void register(AdsStream<?, ?> stream);

  /** A closed stream leaves the server; called once, when it closes. */
  void unregister(AdsStream<?, ?> stream);
}
