package io.nodemesh.xds;

import java.util.ArrayDeque;
import java.util.List;

/**
 * One delta stream's search, for one type, for the resource(s) behind a NACK: the rejected response's
 * resources are split in halves and re-sent as subsets ("probes"), one at a time; a subset the client ACKs
 * is applied and good, a rejected single resource is quarantined. Bounded by a number of probes, so a
 * client that rejects everything cannot make the server loop. Confined to the stream's executor.
 *
 * <p>A set known to contain a bad resource is split without being probed again; when one half is ACKed the
 * other is known bad, so one bad resource among n costs about log2(n) probes.
 */
final class NackIsolation {

  /** A set of resources to examine. */
  static final class Task {
    final List<Resource> resources;
    /** The set contains at least one resource the client rejects. */
    boolean knownBad;
    /** The other half of the same split: known bad once this half is ACKed. */
    Task sibling;
    /** The client's most specific NACK message about this set. */
    String error;

    Task(List<Resource> resources, boolean knownBad, String error) {
      this.resources = resources;
      this.knownBad = knownBad;
      this.error = error;
    }
  }

  /** Store generation of the first rejected response: once isolation ends, the client holds what it allows. */
  final long generation;
  final ArrayDeque<Task> tasks = new ArrayDeque<>();
  int probes;
  Task inFlight;
  long inFlightNonce;
  int quarantined;
  /** Probes the client ACKed: those resources are applied now. */
  int ackedProbes;

  NackIsolation(long generation) {
    this.generation = generation;
  }

  /** A whole response was rejected: it holds at least one bad resource. */
  void rejected(List<Resource> resources, String error) {
    tasks.addLast(new Task(resources, true, error));
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
}
