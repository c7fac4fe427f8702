package io.nodemesh.xds;

import java.util.ArrayDeque;
import java.util.List;

/**
 * One delta stream's search, for one type, for the resource(s) behind a NACK: the rejected response's
 * resources are split in halves and re-sent as subsets ("probes"), one at a time; a subset the client ACKs
 * is applied and good, a rejected single resource is quarantined. Bounded by a number of probes, so a
 * client that rejects everything cannot make the server loop. The only writer of its state (the stream says
 * what happened); confined to the stream's executor.
 *
 * <p>A set known to contain a bad resource is split without being probed again; when one half is ACKed the
 * other is known bad, so one bad resource among n costs about log2(n) probes.
 */
final class NackIsolation {

  /** A set of resources to examine. */
  static final class Task {
    final List<Resource> resources;
    /** The set contains at least one resource the client rejects. */
    private boolean knownBad;
    /** The other half of the same split: known bad once this half is ACKed. */
    private Task sibling;
    /** The client's most specific NACK message about this set. */
    private String error;

    private Task(List<Resource> resources, boolean knownBad, String error) {
      this.resources = resources;
      this.knownBad = knownBad;
      this.error = error;
    }

    boolean knownBad() {
      return knownBad;
    }

    String error() {
      return error;
    }

    /**
     * The part of this set still to examine, {@code current} (its resources the client should still get in the
     * same version), as a probe. When some left, what was known about the set no longer holds.
     */
    Task probe(List<Resource> current) {
      Task probe = new Task(current, false, error);
      probe.sibling = current.size() < resources.size() ? null : sibling;
      return probe;
    }
  }

  /** Store generation of the first rejected response: once isolation ends, the client holds what it allows. */
  final long generation;
  private final ArrayDeque<Task> tasks = new ArrayDeque<>();
  private int probes;
  private Task inFlight;
  private long inFlightNonce;
  private int quarantined;
  /** Probes the client ACKed: those resources are applied now. */
  private int ackedProbes;

  NackIsolation(long generation) {
    this.generation = generation;
  }

  /** A whole response was rejected: it holds at least one bad resource. */
  void rejected(List<Resource> resources, String error) {
    tasks.addLast(new Task(resources, true, error));
  }

  /** The next set to examine, or null when none is left. */
  Task next() {
    return tasks.pollFirst();
  }

  /**
   * Whether {@code task}, reduced to {@code current}, is still known to hold a bad resource: only if none of its
   * resources changed, left or became unsubscribed since.
   */
  static boolean stillKnownBad(Task task, List<Resource> current) {
    return task.knownBad && current.size() == task.resources.size();
  }

  /** {@code probe} went out with {@code nonce}; its answer comes through {@link #answered}. */
  void probing(Task probe, long nonce) {
    probes++;
    inFlight = probe;
    inFlightNonce = nonce;
  }

  /** Whether the probe in flight carries {@code nonce}. */
  boolean awaits(long nonce) {
    return inFlight != null && inFlightNonce == nonce;
  }

  boolean probeInFlight() {
    return inFlight != null;
  }

  /** The answer to the probe in flight ({@code error} null for an ACK). */
  void answered(String error) {
    Task task = inFlight;
    inFlight = null;
    if (task == null) {
      return;
    }
    if (error == null) {
      ackedProbes++;
      if (task.sibling != null && tasks.contains(task.sibling)) {
        task.sibling.knownBad = true;
      }
    } else {
      task.knownBad = true;
      task.error = error;
      tasks.addFirst(task);
    }
  }

  /** Splits a known-bad set into two halves, examined next, first half first. */
  void split(Task task, List<Resource> current) {
    int half = current.size() / 2;
    Task first = new Task(current.subList(0, half), false, task.error);
    Task second = new Task(current.subList(half, current.size()), false, task.error);
    first.sibling = second;
    tasks.addFirst(second);
    tasks.addFirst(first);
  }

  /** A single rejected resource was quarantined. */
  void quarantinedOne() {
    quarantined++;
  }

  /** The probe budget is spent: what is left stays unsent until its content changes; returns how many sets. */
  int abandon() {
    int left = tasks.size();
    tasks.clear();
    return left;
  }

  int probes() {
    return probes;
  }

  int quarantined() {
    return quarantined;
  }

  int ackedProbes() {
    return ackedProbes;
  }
}
