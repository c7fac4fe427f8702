package io.nodemesh.xds;

/**
 * Hooks for ACK and NACK events, e.g. for convergence metrics (store generation -> ACK time). Called on
 * stream executors, concurrently for different streams: implementations must be thread-safe and quick.
 */
public interface XdsEventListener {

  /** A listener that ignores everything. */
  XdsEventListener NONE = new XdsEventListener() {};

  /** A client ACKed a response computed from store generation {@code generation}. */
  default void onAck(NodeIdentity client, ResourceType type, long generation) {}

  /** A client rejected a response computed from store generation {@code generation}. */
  default void onNack(NodeIdentity client, ResourceType type, long generation, String error) {}
}
