package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;

/**
 * What a client asked for, for one type: wildcard ({@code *} or the legacy empty first request) and/or
 * explicit names. Immutable.
 *
 * @param wildcard whether the client wants everything it is entitled to (its node's view for LDS/CDS,
 *     every resource for EDS/RDS)
 * @param names names requested explicitly (never contains {@code *})
 */
record Subscription(boolean wildcard, ImmutableSet<String> names) {

  static final Subscription NONE = new Subscription(false, ImmutableSet.of());

  /** Whether the client wants nothing of this type. */
  boolean isEmpty() {
    return !wildcard && names.isEmpty();
  }

  /**
   * This subscription if equal to {@code next}, else {@code next}: keeps the old name set instance so
   * streams can detect "unchanged" by identity.
   */
  Subscription reuseIfEqual(Subscription next) {
    return equals(next) ? this : next;
  }
}
