package io.nodemesh.admin;

import com.google.protobuf.util.Timestamps;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.QuarantinedResource;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.SyncStatus;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.xds.Quarantine;
import io.nodemesh.xds.StreamStatus;
import java.util.List;

/** The xDS server's stream status in the admin API's messages ({@code nodemesh.admin.v1}). */
public final class SyncStatusMessages {

  private SyncStatusMessages() {}

  /** Every stream, as {@code GET /debug/syncz} answers. */
  public static SyncStatus of(List<StreamStatus> streams) {
    SyncStatus.Builder status = SyncStatus.newBuilder();
    streams.forEach(stream -> status.addClients(client(stream)));
    return status.build();
  }

  /** One stream. */
  public static ClientStatus client(StreamStatus stream) {
    ClientStatus.Builder client = ClientStatus.newBuilder()
        .setStreamId(Long.toString(stream.streamId()))
        .setNodeId(stream.nodeId())
        .setNodeName(stream.nodeName())
        .setKind(stream.kind().toString())
        .setProtocol(stream.protocol().toString())
        .setPeer(stream.peer())
        .setConnectedAt(Timestamps.fromMillis(stream.connectedAtMillis()))
        .setAuthorization(stream.authorization())
        .setClaimedNodeName(stream.claimedNodeName())
        .setPrincipal(stream.principal());
    for (StreamStatus.TypeSync type : stream.types()) {
      TypeStatus.Builder status = TypeStatus.newBuilder()
          .setTypeUrl(type.type().typeUrl())
          .setSentVersion(type.sentVersion())
          .setSentNonce(type.sentNonce())
          .setAckedVersion(type.ackedVersion())
          .setNackError(type.nackError())
          .setState(switch (type.verdict()) {
            case SYNCED -> SyncState.SYNCED;
            case STALE -> SyncState.STALE;
            case NACKED -> SyncState.NACKED;
          })
          .setSentGeneration(type.sentGeneration())
          .setAckedGeneration(type.ackedGeneration())
          .setWildcard(type.wildcard())
          .setSubscribedNames(type.subscribedNames())
          .setResourceCount(type.heldResources())
          .setIsolating(type.isolating());
      type.withheld().forEach(entry -> status.addQuarantined(quarantined(entry)));
      if (type.sentAtMillis() > 0) {
        status.setLastPush(Timestamps.fromMillis(type.sentAtMillis()));
      }
      if (type.ackedAtMillis() > 0) {
        status.setLastAck(Timestamps.fromMillis(type.ackedAtMillis()));
      }
      client.addTypes(status);
    }
    return client.build();
  }

  /** A quarantine entry. */
  public static QuarantinedResource quarantined(Quarantine.Entry entry) {
    return QuarantinedResource.newBuilder()
        .setTypeUrl(entry.type().typeUrl())
        .setName(entry.name())
        .setVersion(entry.version())
        .setNackError(entry.error())
        .setNodeId(entry.nodeId())
        .setPrincipal(entry.principal())
        .setQuarantinedAt(Timestamps.fromMillis(entry.atMillis()))
        .build();
  }
}
