package io.nodemesh.model;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Which meshed pods name which network namespace path on which node (annotation netns mode), so that a path
 * named by two pods of one node can be refused for every one of them: each pod's listener would otherwise open
 * in the same namespace, and the one that does not own it would receive the other's traffic.
 *
 * <p>A path is only a namespace on one node's filesystem: the same path on two nodes is two namespaces and no
 * conflict. Lookups and updates cost O(log claimants of one path); not thread-safe (owned by a builder).
 */
final class NetnsClaims {

  /** At most this many other pods are named in a conflict reason; the rest are counted. */
  static final int MAX_NAMED = 3;

  /** One netns path on one node. */
  record Claim(String node, String path) {
    Claim {
      Objects.requireNonNull(node, "node");
      Objects.requireNonNull(path, "path");
    }
  }

  private final Map<Claim, NavigableSet<ObjectKey>> claimants = new HashMap<>();
  private final Map<ObjectKey, Claim> claimOf = new HashMap<>();

  /** Records that {@code pod} now claims {@code claim} (null: nothing); returns its previous claim, or null. */
  Claim set(ObjectKey pod, Claim claim) {
    Claim previous = claim == null ? claimOf.remove(pod) : claimOf.put(pod, claim);
    if (Objects.equals(previous, claim)) {
      return previous;
    }
    if (previous != null) {
      NavigableSet<ObjectKey> others = claimants.get(previous);
      others.remove(pod);
      if (others.isEmpty()) {
        claimants.remove(previous);
      }
    }
    if (claim != null) {
      claimants.computeIfAbsent(claim, c -> new TreeSet<>()).add(pod);
    }
    return previous;
  }

  /** The pods claiming a path on a node, in key order (empty when none). */
  NavigableSet<ObjectKey> claimants(Claim claim) {
    NavigableSet<ObjectKey> pods = claimants.get(claim);
    return pods == null ? new TreeSet<>() : pods;
  }

  /**
   * The decision for one of the pods claiming {@code claim}: the path when it is the only one, else refused with
   * a reason naming the others. Depends only on who claims what, never on the order the claims arrived in, so
   * every control plane replica decides the same.
   */
  static MeshStatus statusOf(ObjectKey pod, Claim claim, NavigableSet<ObjectKey> claimants) {
    if (claimants.size() <= 1) {
      return MeshStatus.meshed(claim.path());
    }
    StringBuilder others = new StringBuilder();
    int named = 0;
    for (Iterator<ObjectKey> it = claimants.iterator(); it.hasNext() && named < MAX_NAMED; ) {
      ObjectKey other = it.next();
      if (!other.equals(pod)) {
        others.append(named == 0 ? "" : ", ").append(other.namespace()).append('/').append(other.name());
        named++;
      }
    }
    int unnamed = claimants.size() - 1 - named;
    if (unnamed > 0) {
      others.append(" and ").append(unnamed).append(" more");
    }
    return MeshStatus.notMeshed(NetnsPaths.ANNOTATION + " " + claim.path() + " is also named by pod"
        + (claimants.size() > 2 ? "s " : " ") + others + " on node " + claim.node()
        + ": a network namespace belongs to one pod, so no pod naming it is meshed");
  }
}
