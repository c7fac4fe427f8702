package io.nodemesh.xds;

import com.google.common.collect.ImmutableMap;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of the xDS server, readable from any thread. Plain adders until a metrics library is wired in;
 * the admin layer exports {@link #snapshot()}.
 */
public final class XdsMetrics {

  /** Why a request (or part of one) was not acted on. Each reason is its own counter. */
  public enum BadRequest {
    /** A type URL that is not one of the four v3 types. */
    UNKNOWN_TYPE_URL,
    /** The first request of a stream carried no node. */
    MISSING_NODE,
    /** The first request's node.id or node_name was too long or held control characters: the stream ended. */
    INVALID_NODE,
    /** A subscribed name longer than any resource name can be: ignored, never echoed back. */
    NAME_TOO_LONG,
    /**
     * A wildcard subscription to endpoints or routes from a client authorized for node-independent resources
     * only: it gets the names it asks for, never the whole cluster's endpoints. The wildcard is ignored.
     */
    SHARED_ONLY_WILDCARD,
    /** A response_nonce this stream never issued (e.g. an ACK/NACK for a version never sent). */
    UNKNOWN_NONCE,
    /** A request that is malformed in another way (e.g. initial versions after the first request). */
    MALFORMED,
    /**
     * A subscription by name to a node-private resource (a pod's listener or cluster) while authorization is
     * enforced: those are served only through the authorized node's wildcard view. The name is ignored.
     */
    NODE_PRIVATE_NAME
  }

  /** A per-client limit that was hit. Each is its own counter. */
  public enum Limit {
    /** A stream was refused: its client address already had the maximum number of open streams. */
    STREAMS_PER_ADDRESS,
    /** A stream was closed: it subscribed to more names than allowed. */
    SUBSCRIBED_NAMES,
    /** A request arrived faster than the per-stream rate: the next read was delayed (throttled). */
    REQUEST_RATE,
    /** A stream was closed: a request was larger than the maximum inbound message size. */
    MESSAGE_SIZE,
    /** A stream was refused: the server already had the maximum number of open streams. */
    STREAMS_TOTAL,
    /** A stream was closed: it was not authorized within the first-request deadline. */
    FIRST_REQUEST_DEADLINE,
    /** A stream was closed: its client address would hold more bytes of subscribed names than allowed. */
    NAME_BYTES_PER_ADDRESS
  }

  private final Map<ResourceType, LongAdder> pushes = adders();
  private final Map<ResourceType, LongAdder> pushBytes = adders();
  private final Map<ResourceType, LongAdder> acks = adders();
  private final Map<ResourceType, LongAdder> nacks = adders();
  private final Map<BadRequest, LongAdder> badRequests = new EnumMap<>(BadRequest.class);
  private final LongAdder staleNonces = new LongAdder();
  private final LongAdder unknownResourceNames = new LongAdder();
  private final LongAdder oversizeResponses = new LongAdder();
  private final LongAdder splitResponses = new LongAdder();
  private final LongAdder pausedSends = new LongAdder();
  private final LongAdder sendFailures = new LongAdder();
  private final LongAdder streamsOpened = new LongAdder();
  private final LongAdder streamsClosed = new LongAdder();
  private final LongAdder streamsCancelled = new LongAdder();
  private final Map<Limit, LongAdder> limits = new EnumMap<>(Limit.class);
  private final Map<String, LongAdder> authorized = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> authDenied = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> pinReports = new ConcurrentHashMap<>();
  private final LongAdder isolationProbes = new LongAdder();
  private final LongAdder isolationsAbandoned = new LongAdder();
  private final LongAdder quarantined = new LongAdder();
  private final LongAdder quarantineFull = new LongAdder();

  XdsMetrics() {
    for (BadRequest reason : BadRequest.values()) {
      badRequests.put(reason, new LongAdder());
    }
    for (Limit limit : Limit.values()) {
      limits.put(limit, new LongAdder());
    }
  }

  private static Map<ResourceType, LongAdder> adders() {
    Map<ResourceType, LongAdder> map = new EnumMap<>(ResourceType.class);
    for (ResourceType type : ResourceType.all()) {
      map.put(type, new LongAdder());
    }
    return map;
  }

  void pushed(ResourceType type, int bytes) {
    pushes.get(type).increment();
    pushBytes.get(type).add(bytes);
  }

  void acked(ResourceType type) {
    acks.get(type).increment();
  }

  void nacked(ResourceType type) {
    nacks.get(type).increment();
  }

  void badRequest(BadRequest reason) {
    badRequests.get(reason).increment();
  }

  void staleNonce() {
    staleNonces.increment();
  }

  void unknownResourceNames(int count) {
    unknownResourceNames.add(count);
  }

  void oversizeResponse() {
    oversizeResponses.increment();
  }

  void splitResponse() {
    splitResponses.increment();
  }

  void pausedSend() {
    pausedSends.increment();
  }

  void sendFailure() {
    sendFailures.increment();
  }

  void limited(Limit limit) {
    limits.get(limit).increment();
  }

  /** Labels come from the authorizer, a fixed small set. */
  void authorized(String label) {
    authorized.computeIfAbsent(label, l -> new LongAdder()).increment();
  }

  void authDenied(String label) {
    authDenied.computeIfAbsent(label, l -> new LongAdder()).increment();
  }

  /** A node agent's pin report, by outcome ({@code accepted} or the reason label of a refusal: a bounded set). */
  void pinReport(String outcome) {
    pinReports.computeIfAbsent(outcome, l -> new LongAdder()).increment();
  }

  void isolationProbe() {
    isolationProbes.increment();
  }

  void isolationAbandoned() {
    isolationsAbandoned.increment();
  }

  void quarantined() {
    quarantined.increment();
  }

  void quarantineFull() {
    quarantineFull.increment();
  }

  void streamOpened() {
    streamsOpened.increment();
  }

  void streamClosed(boolean cancelled) {
    streamsClosed.increment();
    if (cancelled) {
      streamsCancelled.increment();
    }
  }

  /** A consistent-enough copy of every counter (each read atomically, not all at one instant). */
  public Snapshot snapshot() {
    return new Snapshot(
        sums(pushes),
        sums(pushBytes),
        sums(acks),
        sums(nacks),
        sums(badRequests),
        staleNonces.sum(),
        unknownResourceNames.sum(),
        oversizeResponses.sum(),
        splitResponses.sum(),
        pausedSends.sum(),
        sendFailures.sum(),
        streamsOpened.sum(),
        streamsClosed.sum(),
        streamsCancelled.sum(),
        sums(limits),
        stringSums(authorized),
        stringSums(authDenied),
        isolationProbes.sum(),
        isolationsAbandoned.sum(),
        quarantined.sum(),
        quarantineFull.sum(),
        stringSums(pinReports));
  }

  private static ImmutableMap<String, Long> stringSums(Map<String, LongAdder> adders) {
    ImmutableMap.Builder<String, Long> out = ImmutableMap.builder();
    new TreeMap<>(adders).forEach((key, adder) -> out.put(key, adder.sum()));
    return out.build();
  }

  private static <K extends Enum<K>> ImmutableMap<K, Long> sums(Map<K, LongAdder> adders) {
    ImmutableMap.Builder<K, Long> out = ImmutableMap.builder();
    adders.forEach((key, adder) -> out.put(key, adder.sum()));
    return out.build();
  }

  /**
   * Counter values.
   *
   * @param pushes responses sent, by type
   * @param pushBytes serialized response bytes sent, by type
   * @param acks ACKs received, by type
   * @param nacks NACKs received, by type
   * @param badRequests requests (or parts) ignored, by reason
   * @param staleNonces ACK/NACKs for a superseded response, ignored as the protocol says
   * @param unknownResourceNames subscriptions to names the store does not hold (at subscription time)
   * @param oversizeResponses SotW responses (or single delta resources) above the max message size
   * @param splitResponses delta pushes split into several responses to stay under the max size
   * @param pausedSends times a delta push stopped between responses until a slow client could take more
   * @param sendFailures responses that could not be written (stream already gone)
   * @param streamsOpened ADS streams opened
   * @param streamsClosed ADS streams closed for any reason
   * @param streamsCancelled ADS streams the client cancelled or lost
   * @param limits per-client limits hit, by limit
   * @param authorized streams admitted, by how they were authorized (authorizer's label)
   * @param authDenied streams refused by the authorizer, by reason label
   * @param isolationProbes subset responses sent to find the resource(s) behind a delta NACK
   * @param isolationsAbandoned NACK isolations stopped at the probe limit (the type stays parked)
   * @param quarantined resources quarantined for a client
   * @param quarantineFull rejected resources not quarantined because the client's quarantine was full
   * @param pinReports node agents' pin reports, by outcome
   */
  public record Snapshot(
      ImmutableMap<ResourceType, Long> pushes,
      ImmutableMap<ResourceType, Long> pushBytes,
      ImmutableMap<ResourceType, Long> acks,
      ImmutableMap<ResourceType, Long> nacks,
      ImmutableMap<BadRequest, Long> badRequests,
      long staleNonces,
      long unknownResourceNames,
      long oversizeResponses,
      long splitResponses,
      long pausedSends,
      long sendFailures,
      long streamsOpened,
      long streamsClosed,
      long streamsCancelled,
      ImmutableMap<Limit, Long> limits,
      ImmutableMap<String, Long> authorized,
      ImmutableMap<String, Long> authDenied,
      long isolationProbes,
      long isolationsAbandoned,
      long quarantined,
      long quarantineFull,
      ImmutableMap<String, Long> pinReports) {

    /** Total bad requests over every reason. */
    public long totalBadRequests() {
      return badRequests.values().stream().mapToLong(Long::longValue).sum();
    }
  }
}
