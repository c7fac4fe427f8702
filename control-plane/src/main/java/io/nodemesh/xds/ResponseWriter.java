package io.nodemesh.xds;

import io.nodemesh.xds.AckTracker.Sent;
import java.util.List;
import org.slf4j.Logger;

/**
 * The one place a stream's responses go out: each is checked against the size limit, counted, logged and recorded
 * in its type's {@link AckTracker} with the store changes it is the first to carry. Confined to the stream's
 * executor.
 */
final class ResponseWriter<RespT> {

  private static final Logger log = AdsStream.log;

  private final AdsStream<?, RespT> stream;
  private final StreamContext context;

  ResponseWriter(AdsStream<?, RespT> stream, StreamContext context) {
    this.stream = stream;
    this.context = context;
  }

  /**
   * Sends one response that carries {@code carried} and removes {@code removedNames} (both remembered until
   * ACKed: for NACK isolation and {@link AdsStream#listenerAcks}); {@code probe} marks a response that re-sends a
   * subset of a rejected one. Returns false if the stream is gone. The response carries {@code nonce}.
   */
  boolean write(TypeState state, RespT response, long nonce, String version, long generation, int bytes,
      List<Resource> carried, List<String> removedNames, int resources, int removed, boolean probe) {
    if (stream.isClosed()) {
      context.metrics().sendFailure();
      log.debug("node={} stream={} dropped a {} push: stream closed", stream.nodeId(), stream.id,
          state.type.shortName());
      return false;
    }
    if (bytes > context.options().maxResponseBytes()) {
      context.metrics().oversizeResponse();
      log.warn("node={} stream={} type={} response of {} bytes exceeds the {} byte limit; the client may reject it",
          stream.nodeId(), stream.id, state.type.shortName(), bytes, context.options().maxResponseBytes());
    }
    try {
      stream.observer.onNext(response);
    } catch (RuntimeException e) {
      context.metrics().sendFailure();
      log.info("node={} stream={} push failed, closing the stream: {}", stream.nodeId(), stream.id, e.toString());
      stream.close(true, "send failed: " + e);
      return false;
    }
    context.metrics().pushed(state.type, bytes);
    state.acks.sent(new Sent(nonce, version, generation, context.clock().millis(), carried, removedNames, probe,
        state.causesOfResponse()));
    log.debug(
        "push node={} stream={} protocol={} type={} nonce={} version={} generation={} resources={} removed={} bytes={}",
        stream.nodeId(), stream.id, stream.protocol, state.type.shortName(), nonce, version, generation, resources,
        removed, bytes);
    return true;
  }
}
