package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One stream's state for one resource type: subscription, what the client holds, the NACK isolation under way
 * and, in {@link #acks}, the responses awaiting an ACK. The only writer of its fields: the streams say what
 * happened through its methods. Confined to the stream's executor, except {@link #changedBy} (the store's
 * context) and the volatile {@link #published} and {@link #knownGeneration()} that other threads read.
 */
final class TypeState {

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

    /**
     * Where the client stands for {@code type}: stale while anything is on its way ({@code pending}: a push is
     * about to be computed), rejected while it NACKed or resources are {@code withheld} from it, else synced.
     */
    StreamStatus.TypeSync sync(ResourceType type, boolean pending, ImmutableList<Quarantine.Entry> withheld) {
      StreamStatus.Verdict verdict;
      if (awaitingAck || isolating || pending) {
        verdict = StreamStatus.Verdict.STALE;
      } else if (lastResponseNacked || !withheld.isEmpty()) {
        verdict = StreamStatus.Verdict.NACKED;
      } else {
        verdict = StreamStatus.Verdict.SYNCED;
      }
      return new StreamStatus.TypeSync(type, verdict, sentVersion, sentNonce, ackedVersion, nackError,
          sentGeneration, ackedGeneration, wildcard, subscribedNames, heldResources, isolating, sentAtMillis,
          ackedAtMillis, withheld);
    }
  }

  /** Which of some names a client holds for sure: ACKed present, or held not and with nothing in flight. */
  record Settled(Set<String> present, Set<String> absent) {}

  final ResourceType type;
  final AckTracker acks = new AckTracker();
  private Subscription subscription = Subscription.NONE;
  /** The client has sent at least one request for this type on this stream. */
  private boolean requested;
  /** SotW/delta legacy wildcard: the first request named nothing; ends when the client names resources. */
  private boolean legacyWildcard;
  /** The client waits for a first response even if it would be empty (wildcard LDS/CDS). */
  private boolean responseOwed;
  /**
   * SotW: the version_info a client sent on its first request of the stream (what it holds from a previous
   * stream, possibly to another replica); null once the first push decision is made.
   */
  private String claimedVersion;
  private Diff.Known known = Diff.Known.NOTHING;
  /** Store generation of the table {@link #known} refers to; read by the re-anchoring sweep. */
  private volatile long knownGeneration;
  /** Delta: the NACK isolation in progress for this type, or null. Normal pushes of the type wait for it. */
  private NackIsolation isolation;
  /**
   * Store generations that changed this type's resources for the client since its last response (written from
   * the store's context, taken on the stream executor); at most {@link XdsTunables#MAX_CAUSES_PER_RESPONSE}, the
   * oldest kept: they are the slowest to converge.
   */
  private final ConcurrentLinkedQueue<Long> pendingCauses = new ConcurrentLinkedQueue<>();
  /** The causes the next response takes ({@link #pendingCauses} as of the push's diff). */
  private List<Long> causesForNextResponse = List.of();
  private volatile Published published = Published.INITIAL;

  TypeState(ResourceType type) {
    this.type = type;
  }

  /** A request for this type arrived (whatever it asks for). */
  void markRequested() {
    requested = true;
  }

  boolean requested() {
    return requested;
  }

  Subscription subscription() {
    return subscription;
  }

  /** Keeps the current instance when equal, so an unchanged subscription is recognized by identity. */
  void subscribe(Subscription next) {
    subscription = subscription.reuseIfEqual(next);
  }

  boolean legacyWildcard() {
    return legacyWildcard;
  }

  void startLegacyWildcard() {
    legacyWildcard = true;
  }

  void endLegacyWildcard() {
    legacyWildcard = false;
  }

  /** The client waits for a first answer, even an empty one. */
  void oweFirstResponse() {
    responseOwed = true;
  }

  boolean responseOwed() {
    return responseOwed;
  }

  /** SotW: the version a client holds from an earlier stream, as its first request said. */
  void claimVersion(String version) {
    claimedVersion = version;
  }

  /** The claimed version, once: only the first push decision may skip a send for it. */
  String takeClaimedVersion() {
    String claimed = claimedVersion;
    claimedVersion = null;
    return claimed;
  }

  Diff.Known known() {
    return known;
  }

  /** Delta: what a reconnecting client says it holds (initial_resource_versions). */
  void declared(Diff.Known held) {
    known = held;
  }

  /** After a push: the client holds {@code after}, diffed against the tables of {@code generation}. */
  void holds(Diff.Known after, long generation) {
    known = after;
    knownGeneration = generation;
    responseOwed = false;
  }

  /**
   * What {@code who} lacks of this type in {@code snapshot}; the changes that caused it become the causes of the
   * next response, unless it leaves what the client holds as it was.
   */
  Diff diff(StoreSnapshot snapshot, NodeIdentity who, LayerChange layerChanges) {
    Scope scope = Scope.resolve(type, subscription, snapshot, who.nodeName());
    Diff diff = Diff.compute(known, scope, snapshot.tableFor(type, who), layerChanges);
    takeCauses(!diff.isEmpty());
    return diff;
  }

  long knownGeneration() {
    return knownGeneration;
  }

  NackIsolation isolation() {
    return isolation;
  }

  /** The isolation under way, or a new one for a response of {@code generation}. */
  NackIsolation isolate(long generation) {
    if (isolation == null) {
      isolation = new NackIsolation(generation);
    }
    return isolation;
  }

  void endIsolation() {
    isolation = null;
  }

  /** Store generation {@code generation} changed this type for the client (from the store's context). */
  void changedBy(long generation) {
    if (pendingCauses.size() < XdsTunables.MAX_CAUSES_PER_RESPONSE) {
      pendingCauses.add(generation);
    }
  }

  /** Nothing of this type is requested: its changes cause nothing. */
  void dropCauses() {
    pendingCauses.clear();
  }

  /**
   * Takes the pending causes; the next response carries them unless {@code clientStateChanges} is false (changes
   * that left what the client holds as it was caused nothing: no convergence to observe).
   */
  private void takeCauses(boolean clientStateChanges) {
    if (pendingCauses.isEmpty()) {
      return;
    }
    List<Long> causes = new ArrayList<>(causesForNextResponse);
    for (Long cause; (cause = pendingCauses.poll()) != null; ) {
      causes.add(cause);
    }
    if (clientStateChanges) {
      causesForNextResponse = List.copyOf(causes);
    }
  }

  /** The causes a response about to go out carries; the next one starts afresh. */
  List<Long> causesOfResponse() {
    List<Long> causes = causesForNextResponse;
    causesForNextResponse = List.of();
    return causes;
  }

  /**
   * Which of {@code names} the client has ACKed holding, and which it does not hold with no response in flight. A
   * name sent in a response not yet ACKed is in neither set, and so is everything while the last response stands
   * rejected or a reconnecting client's declared state is not folded yet. {@code responsesListTheirNames}: each
   * response in flight names what it carries and removes (delta), so other names are settled; a SotW response
   * restates every name, so while one is in flight nothing is.
   */
  Settled settled(Collection<String> names, boolean responsesListTheirNames) {
    Set<String> present = new HashSet<>();
    Set<String> absent = new HashSet<>();
    if (!acks.lastResponseNacked() && known.declared() == null) {
      Set<String> inFlight = new HashSet<>();
      acks.inFlight().forEach(sent -> {
        sent.resources().forEach(resource -> inFlight.add(resource.name()));
        inFlight.addAll(sent.removedNames());
      });
      boolean everythingInFlight = acks.awaitingAck() && !responsesListTheirNames;
      for (String name : names) {
        if (everythingInFlight || inFlight.contains(name)) {
          continue;
        }
        if (known.scope().contains(name) && known.table().get(name) != null) {
          present.add(name);
        } else {
          absent.add(name);
        }
      }
    }
    return new Settled(Set.copyOf(present), Set.copyOf(absent));
  }

  Published published() {
    return published;
  }

  /** Makes the current state visible to other threads. */
  void publish() {
    published =
        new Published(
            requested,
            subscription.wildcard(),
            subscription.names().size(),
            known.count(),
            acks.sentVersion(),
            acks.sentNonce(),
            acks.sentGeneration(),
            acks.sentAtMillis(),
            acks.ackedVersion(),
            acks.ackedGeneration(),
            acks.ackedAtMillis(),
            acks.nackError(),
            acks.lastResponseNacked(),
            acks.awaitingAck(),
            isolation != null);
  }
}
