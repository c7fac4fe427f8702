package io.nodemesh.xds;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One stream's state for one resource type: subscription, what the client holds, responses awaiting an
 * ACK, and the status fields the admin layer reads. Confined to the stream's executor; {@link #published}
 * is the immutable copy other threads read.
 */
final class TypeState {

  /**
   * A response awaiting ACK/NACK. Delta responses remember the resources they carried (shared references,
   * no copies), so that a NACK can be isolated to the resource(s) at fault.
   *
   * @param removedNames delta: the names the response removed (a view of the push's list, no copy)
   * @param probe whether this response re-sent a subset of a rejected response (NACK isolation)
   * @param causes store generations whose changes for this client this response is the first to carry
   */
  record Sent(long nonce, String version, long generation, long sentAtMillis, List<Resource> resources,
      List<String> removedNames, boolean probe, List<Long> causes) {
    Sent(long nonce, String version, long generation, long sentAtMillis) {
      this(nonce, version, generation, sentAtMillis, List.of(), List.of(), false, List.of());
    }
  }

  /** Status fields for readers on other threads. */
  record Published(
      boolean requested,
      boolean wildcard,
      int subscribedNames,
      int heldResources,
      String sentVersion,
      String sentNonce,
      long sentGeneration,
      long sentAtMillis,
      String ackedVersion,
      long ackedGeneration,
      long ackedAtMillis,
      String nackError,
      boolean lastResponseNacked,
      boolean awaitingAck,
      boolean isolating) {

    static final Published INITIAL =
        new Published(false, false, 0, 0, "", "", 0, 0, "", 0, 0, "", false, false, false);
  }

  /** How an ACK/NACK matched the responses in flight. */
  enum AckMatch {
    CURRENT,
    STALE,
    UNKNOWN
  }

  final ResourceType type;
  Subscription subscription = Subscription.NONE;
  /** The client has sent at least one request for this type on this stream. */
  boolean requested;
  /** SotW/delta legacy wildcard: the first request named nothing; ends when the client names resources. */
  boolean legacyWildcard;
  /** The client waits for a first response even if it would be empty (wildcard LDS/CDS). */
  boolean responseOwed;
  /**
   * SotW: the version_info a client sent on its first request of the stream (what it holds from a previous
   * stream, possibly to another replica); null once the first push decision is made.
   */
  String claimedVersion;
  Diff.Known known = Diff.Known.NOTHING;
  /** Store generation of the table {@link #known} refers to; read by the re-anchoring sweep. */
  volatile long knownGeneration;
  final ArrayDeque<Sent> outstanding = new ArrayDeque<>();
  /** Nonce of the latest response of this type (0 before the first). */
  long lastSentNonce;

  String sentVersion = "";
  String sentNonce = "";
  long sentGeneration;
  long sentAtMillis;
  String ackedVersion = "";
  long ackedGeneration;
  long ackedAtMillis;
  String nackError = "";
  boolean lastResponseNacked;
  /** Delta: the NACK isolation in progress for this type, or null. Normal pushes of the type wait for it. */
  NackIsolation isolation;
  /**
   * Store generations that changed this type's resources for the client since its last response (written from
   * the store's thread, taken on the stream executor); at most {@link XdsTunables#MAX_CAUSES_PER_RESPONSE}, the
   * oldest kept: they are the slowest to converge.
   */
  final ConcurrentLinkedQueue<Long> pendingCauses = new ConcurrentLinkedQueue<>();
  /** The causes the next response takes ({@link #pendingCauses} as of the push's diff). */
  List<Long> causesForNextResponse = List.of();

  volatile Published published = Published.INITIAL;

  TypeState(ResourceType type) {
    this.type = type;
  }

  void recordSent(Sent sent) {
    outstanding.addLast(sent);
    while (outstanding.size() > XdsTunables.MAX_OUTSTANDING_NONCES) {
      outstanding.removeFirst();
    }
    lastSentNonce = sent.nonce();
    sentVersion = sent.version();
    sentNonce = Long.toString(sent.nonce());
    sentGeneration = sent.generation();
    sentAtMillis = sent.sentAtMillis();
  }

  /**
   * Finds the response an ACK/NACK refers to. SotW: only the latest response counts (each supersedes the
   * previous one). Delta: any response still in flight counts, because each carries different resources.
   * The matched response and all older ones leave the in-flight list.
   */
  Sent match(long nonce, boolean latestOnly) {
    Sent latest = outstanding.peekLast();
    if (latest == null) {
      return null;
    }
    if (latestOnly && latest.nonce() != nonce) {
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

  void publish() {
    published =
        new Published(
            requested,
            subscription.wildcard(),
            subscription.names().size(),
            known.count(),
            sentVersion,
            sentNonce,
            sentGeneration,
            sentAtMillis,
            ackedVersion,
            ackedGeneration,
            ackedAtMillis,
            nackError,
            lastResponseNacked,
            !outstanding.isEmpty(),
            isolation != null);
  }
}
