package io.nodemesh.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.SyncStatus;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.log.SafeText;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** {@code status} as a table: one row per xDS client, one column per type, NACK messages underneath. */
final class StatusView {

  /** The columns, in the order Envoy asks for them (CDS before EDS, LDS before RDS), named as Envoy names them. */
  private static final Map<String, String> TYPES = Map.of(
      "type.googleapis.com/envoy.config.cluster.v3.Cluster", "CDS",
      "type.googleapis.com/envoy.config.listener.v3.Listener", "LDS",
      "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "EDS",
      "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "RDS");
  private static final List<String> COLUMNS = List.of("CDS", "LDS", "EDS", "RDS");
  /** Version hashes are long; this many characters tell versions apart on one screen. */
  private static final int VERSION_CHARS = 8;
  private static final int NACK_CHARS = 200;

  private StatusView() {}

  static String render(String syncz) throws DebugPortClient.Failure {
    SyncStatus.Builder status = SyncStatus.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(syncz, status);
    } catch (InvalidProtocolBufferException e) {
      throw new DebugPortClient.Failure("the debug port's /debug/syncz is not a sync status: " + e.getMessage());
    }
    List<ClientStatus> clients = new ArrayList<>(status.getClientsList());
    if (clients.isEmpty()) {
      return "No xDS clients are connected.\n";
    }
    clients.sort(Comparator.comparing(ClientStatus::getNodeName).thenComparing(ClientStatus::getNodeId));
    TextTable table = new TextTable("NODE", "CLIENT", "KIND", "CDS", "LDS", "EDS", "RDS", "CONNECTED");
    List<String> notes = new ArrayList<>();
    long now = System.currentTimeMillis();
    for (ClientStatus client : clients) {
      List<String> cells = new ArrayList<>(List.of(client.getNodeName().isEmpty() ? "-" : client.getNodeName(),
          client.getNodeId(), client.getKind()));
      for (String column : COLUMNS) {
        Optional<TypeStatus> type = client.getTypesList().stream()
            .filter(candidate -> column.equals(TYPES.get(candidate.getTypeUrl()))).findFirst();
        cells.add(type.map(StatusView::cell).orElse("-"));
        type.filter(t -> t.getState() == SyncState.NACKED).ifPresent(t -> notes.add(client.getNodeId() + " "
            + column + " NACK: " + shorten(t.getNackError())));
        type.filter(t -> t.getQuarantinedCount() > 0).ifPresent(t -> notes.add(client.getNodeId() + " " + column
            + " withholds " + t.getQuarantined(0).getName()
            + (t.getQuarantinedCount() > 1 ? " (+" + (t.getQuarantinedCount() - 1) + " more)" : "")
            + " after a NACK: " + shorten(t.getQuarantined(0).getNackError())));
      }
      cells.add(client.hasConnectedAt()
          ? TextTable.age(Duration.ofMillis(Math.max(0, now - Timestamps.toMillis(client.getConnectedAt())))) : "-");
      table.row(cells.toArray(String[]::new));
    }
    StringBuilder text = new StringBuilder(table.render());
    notes.forEach(note -> text.append(note).append('\n'));
    return text.toString();
  }

  /** SYNCED and NACKED name the version the client runs; STALE names it too, a newer one is on its way. */
  private static String cell(TypeStatus type) {
    String state = switch (type.getState()) {
      case SYNCED -> "SYNCED";
      case STALE -> "STALE";
      case NACKED -> "NACKED";
      default -> "UNKNOWN";
    };
    String version = type.getAckedVersion();
    return version.isEmpty() ? state + " (none acked)" : state + " " + shortVersion(version);
  }

  static String shortVersion(String version) {
    return version.length() > VERSION_CHARS ? version.substring(0, VERSION_CHARS) : version;
  }

  /** An Envoy's message on one line: whitespace runs become one space, the rest is escaped like a log line. */
  private static String shorten(String text) {
    return SafeText.of(text.replaceAll("\\s+", " ").strip(), NACK_CHARS);
  }
}
