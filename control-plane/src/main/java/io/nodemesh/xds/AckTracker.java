package io.nodemesh.xds;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * One stream's responses of one type awaiting an ACK/NACK, and what the client last ACKed or NACKed. The only
 * writer of that state: the stream reports what happened ({@link #sent}, {@link #acked}, {@link #nacked}, ...).
 * Confined to the stream's executor.
 */
final class AckTracker {

  /**
   * A response awaiting ACK/NACK. Delta responses remember the resources they carried (shared references,
   * no copies), so that a NACK can be isolated to the resource(s) at fault.
   *
   * @param removedNames delta: the names the response removed (a view of the push's list, no copy)
   * @param probe whether this response re-sent a subset of a rejected response (NACK isolation)
   * @param causes store generations whose changes for this client this response is the first to carry
   */
  record Sent(long nonce, String version, long generation, long sentAtMillis, List<Resource> resources,
      List<String> removedNames, boolean probe, List<Long> causes) {}

  /** Oldest first; bounded, so a client that never answers cannot grow it. */
  private final ArrayDeque<Sent> outstanding = new ArrayDeque<>();
  private Sent latest;
  private String ackedVersion = "";
  private long ackedGeneration;
  private long ackedAtMillis;
  private String nackError = "";
  private boolean lastResponseNacked;

  /** A response went out; the oldest in flight is forgotten beyond {@link XdsTunables#MAX_OUTSTANDING_NONCES}. */
  void sent(Sent sent) {
    outstanding.addLast(sent);
    while (outstanding.size() > XdsTunables.MAX_OUTSTANDING_NONCES) {
      outstanding.removeFirst();
    }
    // what the status needs of the latest response, not its resources: those would stay reachable from every
    // stream after the ACK (a node's whole CDS after a cold start)
    latest = new Sent(sent.nonce(), sent.version(), sent.generation(), sent.sentAtMillis(), List.of(), List.of(),
        sent.probe(), List.of());
  }

  /**
   * SotW: whether a request names the latest response after it was already answered (new names after its ACK):
   * it is about the current state, not stale.
   */
  boolean answeredLatest(long nonce) {
    return latest != null && latest.nonce() == nonce && outstanding.isEmpty();
  }

  /**
   * The response an ACK/NACK refers to, or null when it is stale (superseded or forgotten). SotW
   * ({@code latestOnly}): only the latest response counts, each supersedes the previous one. Delta: any response
   * still in flight counts, because each carries different resources. The matched response and all older ones
   * leave the in-flight list.
   */
  Sent take(long nonce, boolean latestOnly) {
    Sent newest = outstanding.peekLast();
    if (newest == null || latestOnly && newest.nonce() != nonce) {
      return null;
    }
    Sent found = null;
    for (Sent sent : outstanding) {
      if (sent.nonce() == nonce) {
        found = sent;
        break;
      }
    }
    if (found == null) {
      return null;
    }
    for (Iterator<Sent> it = outstanding.iterator(); it.hasNext(); ) {
      Sent sent = it.next();
      it.remove();
      if (sent == found) {
        break;
      }
    }
    return found;
  }

  /** The client applied {@code sent}. */
  void acked(Sent sent, long atMillis) {
    lastResponseNacked = false;
    ackedVersion = sent.version();
    ackedGeneration = sent.generation();
    ackedAtMillis = atMillis;
  }

  /** The client rejected its latest answered response; {@code error} is kept as the client said it. */
  void nacked(String error) {
    lastResponseNacked = true;
    nackError = error;
  }

  /**
   * SotW: a reconnecting client already holds {@code version}, so nothing is sent and it counts as ACKed (no
   * generation: this stream sent it nothing).
   */
  void heldFromEarlierStream(String version, long atMillis) {
    ackedVersion = version;
    ackedAtMillis = atMillis;
  }

  /** NACK isolation ended: the client holds what it accepted of {@code generation}; withheld ones stay rejected. */
  void isolationDone(long generation, long atMillis, boolean stillWithholding) {
    ackedGeneration = Math.max(ackedGeneration, generation);
    ackedAtMillis = atMillis;
    lastResponseNacked = stillWithholding;
  }

  /** NACK isolation gave up: part of what was rejected stays unsent, so the type stays rejected. */
  void isolationAbandoned() {
    lastResponseNacked = true;
  }

  /** The responses in flight, oldest first (read-only). */
  Collection<Sent> inFlight() {
    return Collections.unmodifiableCollection(outstanding);
  }

  boolean awaitingAck() {
    return !outstanding.isEmpty();
  }

  boolean lastResponseNacked() {
    return lastResponseNacked;
  }

  String sentVersion() {
    return latest == null ? "" : latest.version();
  }

  String sentNonce() {
    return latest == null ? "" : Long.toString(latest.nonce());
  }

  long sentGeneration() {
    return latest == null ? 0 : latest.generation();
  }

  long sentAtMillis() {
    return latest == null ? 0 : latest.sentAtMillis();
  }

  String ackedVersion() {
    return ackedVersion;
  }

  long ackedGeneration() {
    return ackedGeneration;
  }

  long ackedAtMillis() {
    return ackedAtMillis;
  }

  String nackError() {
    return nackError;
  }
}
