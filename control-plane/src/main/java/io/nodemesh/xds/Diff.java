package io.nodemesh.xds;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The difference between what a client holds for one type and what it should hold now. Computed on the
 * stream's executor; a client never receives content it already has.
 */
final class Diff {

  /** Resources the client lacks or holds in another version. */
  final List<Resource> upserts = new ArrayList<>();
  /** Names the client holds that it must drop (left its view, or removed while subscribed). */
  final List<String> removals = new ArrayList<>();
  /** The old resources behind {@link #removals}, when known: SotW keeps them for make-before-break. */
  final List<Resource> removedResources = new ArrayList<>();
  /** Explicitly subscribed names the store does not hold, not yet reported to the client. */
  final List<String> missing = new ArrayList<>();

  final Scope scope;
  final ResourceTable table;
  /** The client's type version (sum of pair hashes) once this diff is applied. */
  long sum;
  /** Number of resources the client holds once this diff is applied. */
  int count;

  private Diff(Scope scope, ResourceTable table, long sum, int count) {
    this.scope = scope;
    this.table = table;
    this.sum = sum;
    this.count = count;
  }

  boolean isEmpty() {
    return upserts.isEmpty() && removals.isEmpty() && missing.isEmpty();
  }

  /**
   * What the client holds: the resources of {@code table} within {@code scope} as of its last push, or,
   * before the first push of a delta reconnect, the versions it declared ({@code declared}).
   */
  record Known(ResourceTable table, Scope scope, Map<String, String> declared, long sum, int count) {

    static final Known NOTHING = new Known(ResourceTable.EMPTY, Scope.NONE, null, 0, 0);

    static Known declared(Map<String, String> versions) {
      long sum = 0;
      for (Map.Entry<String, String> entry : versions.entrySet()) {
        sum += Versions.pairHash(entry.getKey(), entry.getValue());
      }
      return new Known(ResourceTable.EMPTY, Scope.NONE, Map.copyOf(versions), sum, versions.size());
    }
  }

  /** What the client holds once this diff is delivered (or deliberately not delivered). */
  Known after() {
    return new Known(table, scope, null, sum, count);
  }

  /**
   * Computes what must change for a client holding {@code known} to hold {@code scope} of {@code table}.
   *
   * @param layerChanges where the names that entered or left a shared layer are computed once for all streams
   */
  static Diff compute(Known known, Scope scope, ResourceTable table, LayerChange layerChanges) {
    Diff diff = new Diff(scope, table, known.sum(), known.count());
    if (known.declared() == null && known.scope().sameAs(scope)) {
      // same names as last time: only entries in shards that changed can differ
      diff.visitChanged(known, name -> diff.visitOnce(known, name));
    } else if (known.declared() == null && known.scope().sameSubscription(scope)) {
      // the node view changed: besides changed entries, only the names of the parts that changed can differ
      // (a service added changes every node's shared layer: the names it brought, not the whole catalogue)
      Set<String> seen = new HashSet<>();
      Consumer<String> once = name -> {
        if (seen.add(name)) {
          diff.visitOnce(known, name);
        }
      };
      Scope before = known.scope();
      if (before.view != scope.view) {
        before.view.forEach(once);
        scope.view.forEach(once);
      }
      if (before.shared != scope.shared) {
        layerChanges.between(before.shared, scope.shared).forEach(once);
      }
      diff.visitChanged(known, once);
    } else {
      Set<String> seen = new HashSet<>();
      scope.forEachName(table, name -> {
        if (seen.add(name)) {
          diff.visitOnce(known, name);
        }
      });
      if (known.declared() != null) {
        for (String name : known.declared().keySet()) {
          if (seen.add(name)) {
            diff.visitOnce(known, name);
          }
        }
      } else {
        known.scope().forEachName(known.table(), name -> {
          if (seen.add(name)) {
            diff.visitOnce(known, name);
          }
        });
      }
    }
    return diff;
  }

  /**
   * Visits the names in scope whose entry differs between the known table and this one. A stream that was not
   * pushed to for a while (other nodes' pods changed meanwhile) may find most shards changed: then looking up
   * its own few names beats scanning the changed shards of the whole table.
   */
  private void visitChanged(Known known, Consumer<String> visitor) {
    int names = scope.sizeBound();
    if (names < known.table().differingEntries(table, names)) {
      scope.forEachName(table, name -> {
        if (known.table().get(name) != table.get(name)) {
          visitor.accept(name);
        }
      });
    } else {
      known.table().forEachDifference(table, name -> {
        if (scope.contains(name)) {
          visitor.accept(name);
        }
      });
    }
  }

  /** Adds what one name needs; each name must be visited at most once per diff. */
  private void visitOnce(Known known, String name) {
    Resource current = scope.contains(name) ? table.get(name) : null;
    Resource heldResource = null;
    String held;
    boolean toldMissing = false;
    if (known.declared() != null) {
      held = known.declared().get(name);
    } else if (known.scope().contains(name)) {
      heldResource = known.table().get(name);
      held = heldResource == null ? null : heldResource.version();
      toldMissing = heldResource == null && known.scope().explicit.contains(name);
    } else {
      held = null;
    }
    long heldHash = heldResource != null ? heldResource.pairHash() : Versions.pairHash(name, held);
    if (current != null) {
      if (!current.version().equals(held)) {
        upserts.add(current);
        sum += current.pairHash() - heldHash;
        if (held == null) {
          count++;
        }
      }
    } else if (held != null) {
      sum -= heldHash;
      count--;
      // an explicitly unsubscribed name is dropped by the client itself; anything else must be told
      if (scope.wildcard || scope.explicit.contains(name)) {
        removals.add(name);
        if (heldResource != null) {
          removedResources.add(heldResource);
        }
      }
    } else if (scope.explicit.contains(name) && !toldMissing) {
      missing.add(name);
    }
  }
}
