package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;

/**
 * What one connected stream is and holds, read from any thread; the admin layer turns it into its API's messages.
 *
 * @param streamId the server's number for the stream
 * @param nodeId the client's {@code node.id} (empty before its first request)
 * @param nodeName the node whose view it receives; empty for node-independent resources only
 * @param kind Envoy or proxyless gRPC client
 * @param protocol SotW or delta
 * @param peer the client's address
 * @param connectedAtMillis when the stream opened
 * @param authorization how the client's identity was established, in words
 * @param claimedNodeName the node whose view it asked for
 * @param principal who it was authorized as ({@code node:}, {@code sa:}, {@code peer:})
 * @param types one entry per type the client asked for
 */
public record StreamStatus(
    long streamId,
    String nodeId,
    String nodeName,
    ClientKind kind,
    XdsProtocol protocol,
    String peer,
    long connectedAtMillis,
    String authorization,
    String claimedNodeName,
    String principal,
    ImmutableList<TypeSync> types) {

  /** Where the client stands for one type. */
  public enum Verdict {
    /** It ACKed the latest version the server holds for it. */
    SYNCED,
    /** A newer version is sent, being sent, or about to be: not ACKed yet. */
    STALE,
    /** It rejected the latest version, or resources are withheld from it after a NACK. */
    NACKED
  }

  /**
   * One type of one stream.
   *
   * @param type the resource type
   * @param verdict synced, stale or nacked
   * @param sentVersion the version of the last response
   * @param sentNonce its nonce
   * @param ackedVersion the last version the client ACKed
   * @param nackError the client's last NACK message (bounded), empty when none
   * @param sentGeneration store generation the last response was computed from
   * @param ackedGeneration store generation of the last ACKed response
   * @param wildcard whether the client subscribed with a wildcard
   * @param subscribedNames names it subscribed to explicitly
   * @param heldResources resources it holds after the last push
   * @param isolating whether NACK isolation is re-sending subsets right now
   * @param sentAtMillis when the last response went out (0: never)
   * @param ackedAtMillis when the last ACK came (0: never)
   * @param withheld resources of this type withheld from the client after it rejected them
   */
  public record TypeSync(
      ResourceType type,
      Verdict verdict,
      String sentVersion,
      String sentNonce,
      String ackedVersion,
      String nackError,
      long sentGeneration,
      long ackedGeneration,
      boolean wildcard,
      int subscribedNames,
      int heldResources,
      boolean isolating,
      long sentAtMillis,
      long ackedAtMillis,
      ImmutableList<Quarantine.Entry> withheld) {}

  /**
   * A stream's status from what it published: safe from any thread. {@code pendingTypes} (bits by type ordinal)
   * are about to be pushed; {@code quarantine} says what is withheld from the client.
   */
  static StreamStatus of(long streamId, XdsProtocol protocol, StreamAdmission admission, long connectedAtMillis,
      TypeState[] types, int pendingTypes, Quarantine quarantine) {
    NodeIdentity who = admission.identity();
    ImmutableList.Builder<TypeSync> synced = ImmutableList.builder();
    for (TypeState state : types) {
      TypeState.Published published = state.published();
      if (published.requested()) {
        ImmutableList<Quarantine.Entry> withheld = who == null ? ImmutableList.of() : quarantine.of(who, state.type);
        synced.add(published.sync(state.type, (pendingTypes & (1 << state.type.ordinal())) != 0, withheld));
      }
    }
    // a client without node_name metadata that asks for listeners by name is a proxyless gRPC client
    TypeState.Published listeners = types[ResourceType.LISTENER.ordinal()].published();
    boolean proxyless = who != null && !who.nodeNameFromMetadata() && listeners.requested() && !listeners.wildcard();
    return new StreamStatus(streamId, who == null ? "" : who.nodeId(), who == null ? "" : who.nodeName(),
        proxyless ? ClientKind.PROXYLESS : ClientKind.ENVOY, protocol, admission.peer(), connectedAtMillis,
        admission.authorization(), admission.claimedNode(), who == null ? "" : who.principal(), synced.build());
  }
}
