package io.nodemesh.xds;

import java.util.List;

/**
 * Hooks for ACK and NACK events, e.g. for convergence metrics (store generation -> ACK time). Called on
 * stream executors, concurrently for different streams: implementations must be thread-safe and quick.
 */
public interface XdsEventListener {

  /** A listener that ignores everything. */
  XdsEventListener NONE = new XdsEventListener() {};

  /**
   * A client ACKed a response computed from store generation {@code generation}. {@code causes}: the store
   * generations whose changes reached this client first in that response (each generation once per stream and
   * type; empty for a response no store change of the client's resources caused, e.g. the initial one).
   */
  default void onAck(NodeIdentity client, ResourceType type, long generation, List<Long> causes) {}

  /** A client rejected a response computed from store generation {@code generation}. */
  default void onNack(NodeIdentity client, ResourceType type, long generation, String error) {}

  /**
   * NACK isolation found that {@code client} rejects {@code entry}'s resource; it is withheld from that client
   * until its content changes.
   */
  default void onQuarantine(NodeIdentity client, Quarantine.Entry entry) {}

  /** An authorized stream closed: forget whatever was kept for it ({@link NodeIdentity#streamId()}). */
  default void onStreamClosed(NodeIdentity client) {}

  /** Calls each listener in turn; one that throws does not stop the others. */
  static XdsEventListener all(XdsEventListener... listeners) {
    return new XdsEventListener() {
      @Override
      public void onAck(NodeIdentity client, ResourceType type, long generation, List<Long> causes) {
        for (XdsEventListener listener : listeners) {
          try {
            listener.onAck(client, type, generation, causes);
          } catch (RuntimeException e) {
            AdsStream.log.error("xDS event listener failed", e);
          }
        }
      }

      @Override
      public void onNack(NodeIdentity client, ResourceType type, long generation, String error) {
        for (XdsEventListener listener : listeners) {
          try {
            listener.onNack(client, type, generation, error);
          } catch (RuntimeException e) {
            AdsStream.log.error("xDS event listener failed", e);
          }
        }
      }

      @Override
      public void onQuarantine(NodeIdentity client, Quarantine.Entry entry) {
        for (XdsEventListener listener : listeners) {
          try {
            listener.onQuarantine(client, entry);
          } catch (RuntimeException e) {
            AdsStream.log.error("xDS event listener failed", e);
          }
        }
      }

      @Override
      public void onStreamClosed(NodeIdentity client) {
        for (XdsEventListener listener : listeners) {
          try {
            listener.onStreamClosed(client);
          } catch (RuntimeException e) {
            AdsStream.log.error("xDS event listener failed", e);
          }
        }
      }
    };
  }
}
