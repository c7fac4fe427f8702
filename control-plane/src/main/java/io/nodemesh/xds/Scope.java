package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The names a stream should hold for one type, resolved against a snapshot: the explicit names plus, for
 * a wildcard, the node's view (LDS, CDS: its own names and its shared layer) or every resource of the type
 * (EDS, RDS). Immutable; two scopes built from the same subscription and view are {@link #sameAs} by
 * identity, which lets a stream diff only changed table shards instead of every name, and two that differ
 * only in the view's parts ({@link #sameSubscription}) let it visit only the parts that changed.
 */
final class Scope {

  static final Scope NONE = new Scope(false, false, ImmutableSet.of(), ImmutableSet.of(), ImmutableSet.of());

  final boolean wildcard;
  /** Wildcard over a global type: every name in the table. */
  final boolean all;
  /** The node view's own part (interned by the store); empty unless a wildcard over a per-node type. */
  final ImmutableSet<String> view;
  /** The node view's shared layer (interned by the store), disjoint from {@link #view}. */
  final ImmutableSet<String> shared;
  final ImmutableSet<String> explicit;

  private Scope(boolean wildcard, boolean all, ImmutableSet<String> view, ImmutableSet<String> shared,
      ImmutableSet<String> explicit) {
    this.wildcard = wildcard;
    this.all = all;
    this.view = view;
    this.shared = shared;
    this.explicit = explicit;
  }

  static Scope resolve(ResourceType type, Subscription subscription, StoreSnapshot snapshot, String nodeName) {
    if (subscription.isEmpty()) {
      return NONE;
    }
    if (!subscription.wildcard()) {
      return new Scope(false, false, ImmutableSet.of(), ImmutableSet.of(), subscription.names());
    }
    if (type.fullState()) {
      NodeView view = snapshot.viewOrEmpty(nodeName);
      return new Scope(true, false, view.names(type), view.sharedNames(type), subscription.names());
    }
    return new Scope(true, true, ImmutableSet.of(), ImmutableSet.of(), subscription.names());
  }

  /**
   * Whether a store change touches the names {@link #resolve} would give for this subscription, without resolving
   * them: the one rule streams use to decide which of their types a change wakes. The node's view is looked up
   * only when the answer depends on it. A client served from {@code localPrefixes} is also woken by a change of
   * {@code prefix + X} for a name {@code X} it asks for (see {@link ResourceTable#servedWith}).
   */
  static boolean touchedBy(ResourceType type, Subscription subscription, StoreChange change, StoreSnapshot snapshot,
      String nodeName, List<String> localPrefixes) {
    if (subscription.isEmpty()) {
      return false;
    }
    Collection<String> changed = change.changed(type);
    if (subscription.wildcard()) {
      if (!type.fullState()) {
        if (!changed.isEmpty()) {
          return true;
        }
      } else if (change.changedViews().containsEntry(nodeName, type)) {
        return true;
      } else if (!changed.isEmpty()) {
        NodeView current = snapshot.viewOrEmpty(nodeName);
        if (intersects(current.names(type), changed) || intersects(current.sharedNames(type), changed)) {
          return true;
        }
      }
    }
    return intersects(subscription.names(), changed) || servedFrom(subscription.names(), changed, localPrefixes);
  }

  private static boolean servedFrom(Set<String> names, Collection<String> changed, List<String> localPrefixes) {
    if (localPrefixes.isEmpty() || names.isEmpty()) {
      return false;
    }
    if (changed instanceof Set<String> changedSet && (long) names.size() * localPrefixes.size() < changedSet.size()) {
      // a large batch (a resync) and a client asking for a few names: look its variants up instead
      for (String name : names) {
        for (String prefix : localPrefixes) {
          if (changedSet.contains(prefix + name)) {
            return true;
          }
        }
      }
      return false;
    }
    for (String name : changed) {
      for (String prefix : localPrefixes) {
        if (name.startsWith(prefix) && names.contains(name.substring(prefix.length()))) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean intersects(Set<String> names, Collection<String> changed) {
    if (names.isEmpty() || changed.isEmpty()) {
      return false;
    }
    for (String name : changed) {
      if (names.contains(name)) {
        return true;
      }
    }
    return false;
  }

  boolean contains(String name) {
    return all || view.contains(name) || shared.contains(name) || explicit.contains(name);
  }

  /** Same names by construction (identity of the underlying sets), not by content. */
  boolean sameAs(Scope other) {
    return sameSubscription(other) && view == other.view && shared == other.shared;
  }

  /** Same subscription (identity of the explicit names), whatever the node view holds. */
  boolean sameSubscription(Scope other) {
    return wildcard == other.wildcard && all == other.all && explicit == other.explicit;
  }

  /** How many names the scope holds at most; unbounded for {@code all}. */
  int sizeBound() {
    return all ? Integer.MAX_VALUE : view.size() + shared.size() + explicit.size();
  }

  /**
   * Visits every name in scope: table names for {@code all}, otherwise the view's own and shared names, then
   * explicit names not in the view. With {@code all} an explicit name may be visited twice; callers dedupe.
   */
  void forEachName(ResourceTable table, Consumer<String> visitor) {
    if (all) {
      table.forEach(resource -> visitor.accept(resource.name()));
    } else {
      view.forEach(visitor);
      shared.forEach(visitor);
    }
    for (String name : explicit) {
      if (!view.contains(name) && !shared.contains(name)) {
        visitor.accept(name);
      }
    }
  }
}
