package io.nodemesh.xds;

import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import io.nodemesh.xds.AckTracker.Sent;
import io.nodemesh.xds.XdsMetrics.BadRequest;
import java.util.Arrays;
import java.util.Optional;
import org.slf4j.Logger;

/**
 * What a request is about: the type its URL names and the response its nonce answers, applied to that type's
 * {@link AckTracker} as an ACK or a NACK. It issues the stream's nonces, so a nonce never issued is told from a
 * stale one. Requests the protocol does not allow are counted, and logged at a bounded pace per stream (a client
 * can send one on every request). Confined to the stream's executor.
 */
final class RequestTriage {

  private static final Logger log = AdsStream.log;

  private final AdsStream<?, ?> stream;
  private final StreamContext context;
  private final LogThrottle badRequestLog;
  /** Counts over all types of the stream: any nonce above it was never issued. */
  private long nonceCounter;

  RequestTriage(AdsStream<?, ?> stream, StreamContext context, LogThrottle badRequestLog) {
    this.stream = stream;
    this.context = context;
    this.badRequestLog = badRequestLog;
  }

  /** The nonce of the next response, whatever its type. */
  long nextNonce() {
    return ++nonceCounter;
  }

  /**
   * The state of the type a request is about, after matching the ACK/NACK it carries (if any). Returns null
   * when the request is to be ignored: its type URL is one we do not serve, or, with {@code latestOnly} (SotW),
   * it answers a superseded or unknown response, so its subscriptions are superseded too. In delta,
   * subscription changes stand on their own and are processed whatever the nonce says.
   */
  TypeState typeOf(String typeUrl, String nonce, com.google.rpc.Status error, boolean latestOnly) {
    Optional<ResourceType> type = ResourceType.fromTypeUrl(typeUrl);
    if (type.isEmpty()) {
      badRequest(BadRequest.UNKNOWN_TYPE_URL,
          "node={} stream={} requested unknown type URL '{}'; ignoring the request{}",
          stream.nodeId(), stream.id, SafeText.of(typeUrl));
      return null;
    }
    TypeState state = stream.state(type.get());
    return nonce.isEmpty() || answered(state, nonce, error, latestOnly) || !latestOnly ? state : null;
  }

  /** Counts a request the protocol does not allow and logs it (at a bounded pace). */
  void malformed(String what) {
    badRequest(BadRequest.MALFORMED, "node={} stream={} malformed request: {}{}", stream.nodeId(), stream.id, what);
  }

  /** Counts a bad request; {@code format} ends with the placeholder of the suppressed-lines note. */
  private void badRequest(BadRequest kind, String format, Object... arguments) {
    context.metrics().badRequest(kind);
    long suppressed = badRequestLog.admit();
    if (suppressed >= 0) {
      Object[] withNote = Arrays.copyOf(arguments, arguments.length + 1);
      withNote[arguments.length] = LogThrottle.suppressedNote(suppressed);
      log.warn(format, withNote);
    }
  }

  /**
   * Applies an ACK/NACK to the response it answers; true when it answers the current one. Unknown nonces (never
   * issued) and stale ones (superseded) are logged and counted and otherwise ignored, as the protocol requires.
   */
  private boolean answered(TypeState state, String nonceText, com.google.rpc.Status error, boolean latestOnly) {
    long nonce;
    try {
      nonce = Long.parseLong(nonceText);
    } catch (NumberFormatException e) {
      nonce = -1;
    }
    String kind = error == null ? "ACK" : "NACK";
    if (nonce <= 0 || nonce > nonceCounter) {
      badRequest(BadRequest.UNKNOWN_NONCE,
          "node={} stream={} type={} {} for response_nonce '{}' that this stream never sent; ignoring it{}",
          stream.nodeId(), stream.id, state.type.shortName(), kind, SafeText.of(nonceText));
      return false;
    }
    if (latestOnly && state.acks.answeredLatest(nonce)) {
      return true;
    }
    Sent sent = state.acks.take(nonce, latestOnly);
    if (sent == null) {
      context.metrics().staleNonce();
      log.debug("node={} stream={} type={} {} for stale nonce {}; ignoring it",
          stream.nodeId(), stream.id, state.type.shortName(), kind, nonce);
      return false;
    }
    // kept as the status, the quarantine and the Events show it: bounded
    String message = error == null ? null
        : error.getMessage().isEmpty() ? "code " + error.getCode()
        : SafeText.truncate(error.getMessage(), XdsTunables.MAX_NACK_CHARS);
    if (sent.probe()) {
      stream.onProbeAnswered(state, sent, message);
    } else if (message != null) {
      state.acks.nacked(message);
      context.metrics().nacked(state.type);
      log.warn("NACK node={} nodeName={} stream={} type={} nonce={} version={} error={}",
          stream.nodeId(), stream.admission.nodeName(), stream.id, state.type.shortName(), nonce, sent.version(),
          SafeText.of(message));
      context.listener().onNack(stream.identity(), state.type, sent.generation(), message);
      stream.onNacked(state, sent, message);
    } else {
      state.acks.acked(sent, context.clock().millis());
      context.metrics().acked(state.type);
      context.listener().onAck(stream.identity(), state.type, sent.generation(), sent.causes());
    }
    state.publish();
    return true;
  }
}
