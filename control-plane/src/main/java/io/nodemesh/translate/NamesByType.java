package io.nodemesh.translate;

import com.google.common.collect.ImmutableSet;

/** Resource names by xDS type, each set sorted. */
public record NamesByType(ImmutableSet<String> listeners, ImmutableSet<String> clusters,
    ImmutableSet<String> endpoints, ImmutableSet<String> routes) {

  /** No names. */
  public static final NamesByType EMPTY =
      new NamesByType(ImmutableSet.of(), ImmutableSet.of(), ImmutableSet.of(), ImmutableSet.of());
}
