package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import java.util.function.Consumer;

/**
 * The names a stream should hold for one type, resolved against a snapshot: the explicit names plus, for
 * a wildcard, the node's view (LDS, CDS) or every resource of the type (EDS, RDS). Immutable; two scopes
 * built from the same subscription and view are {@link #sameAs} by identity, which lets a stream diff
 * only changed table shards instead of every name.
 */
final class Scope {

  static final Scope NONE = new Scope(false, false, ImmutableSet.of(), ImmutableSet.of());

  final boolean wildcard;
  /** Wildcard over a global type: every name in the table. */
  final boolean all;
  /** The node view part (interned by the store); empty unless a wildcard over a per-node type. */
  final ImmutableSet<String> view;
  final ImmutableSet<String> explicit;

  private Scope(boolean wildcard, boolean all, ImmutableSet<String> view, ImmutableSet<String> explicit) {
    this.wildcard = wildcard;
    this.all = all;
    this.view = view;
    this.explicit = explicit;
  }

  static Scope resolve(ResourceType type, Subscription subscription, StoreSnapshot snapshot, String nodeName) {
    if (subscription.isEmpty()) {
      return NONE;
    }
    if (!subscription.wildcard()) {
      return new Scope(false, false, ImmutableSet.of(), subscription.names());
    }
    if (type.fullState()) {
      return new Scope(true, false, snapshot.viewOrEmpty(nodeName).names(type), subscription.names());
    }
    return new Scope(true, true, ImmutableSet.of(), subscription.names());
  }

  boolean contains(String name) {
    return all || view.contains(name) || explicit.contains(name);
  }

  /** Same names by construction (identity of the underlying sets), not by content. */
  boolean sameAs(Scope other) {
    return wildcard == other.wildcard && all == other.all && view == other.view && explicit == other.explicit;
  }

  /**
   * Visits every name in scope: table names for {@code all}, otherwise view names then explicit names
   * not in the view. With {@code all} an explicit name may be visited twice; callers dedupe.
   */
  void forEachName(ResourceTable table, Consumer<String> visitor) {
    if (all) {
      table.forEach(resource -> visitor.accept(resource.name()));
    } else {
      view.forEach(visitor);
    }
    for (String name : explicit) {
      if (!view.contains(name)) {
        visitor.accept(name);
      }
    }
  }
}
