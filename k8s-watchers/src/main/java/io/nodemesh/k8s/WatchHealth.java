package io.nodemesh.k8s;

import com.google.common.collect.ImmutableMap;
import java.time.Instant;
import java.util.Optional;

/**
 * A point-in-time view of the watchers for {@code /readyz} and {@code /debug/state}.
 *
 * @param synced every informer has listed once and the resulting state was published
 * @param apiServerReachable every informer currently has an open watch (false while relisting or reconnecting)
 * @param watchErrors list/watch failures reported by the informers since start (each is retried)
 * @param lastError the latest such failure
 * @param lastErrorAt when it happened
 * @param kinds per-kind informer status
 */
public record WatchHealth(
    boolean synced,
    boolean apiServerReachable,
    long watchErrors,
    Optional<String> lastError,
    Optional<Instant> lastErrorAt,
    ImmutableMap<ResourceKind, KindStatus> kinds) {

  /**
   * The status of one informer.
   *
   * @param hasSynced the informer listed at least once
   * @param watching its watch is open now
   * @param lists list operations started: 1 is the initial list, more are relists after errors or expiry
   * @param events add/update/delete notifications received (resync replays included)
   */
  public record KindStatus(boolean hasSynced, boolean watching, long lists, long events) {}
}
