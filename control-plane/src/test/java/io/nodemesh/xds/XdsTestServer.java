package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.nodemesh.admin.SyncStatusMessages;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.api.envoy.EnvoyValidator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A store, an ADS server over it, and an in-process channel to it; closes all three. */
final class XdsTestServer implements AutoCloseable {

  final ResourceStore store = new ResourceStore();
  final XdsServer xds;
  final Server server;
  final ManagedChannel channel;

  XdsTestServer() {
    this(Clock.systemUTC());
  }

  XdsTestServer(Clock clock) {
    this(XdsEventListener.NONE, clock);
  }

  XdsTestServer(XdsEventListener listener, Clock clock) {
    this(listener, clock, XdsServerOptions.DEFAULTS);
  }

  XdsTestServer(XdsEventListener listener, Clock clock, XdsServerOptions options) {
    xds = XdsServer.create(store, listener, clock, options);
    String name = InProcessServerBuilder.generateName();
    try {
      server = InProcessServerBuilder.forName(name).directExecutor().addService(xds.service()).build().start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  /** Applies a batch and waits for it (bounded). */
  ApplyResult apply(UpdateBatch batch) {
    try {
      return store.apply(batch).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException | ExecutionException | TimeoutException e) {
      throw new AssertionError("batch did not apply", e);
    }
  }

  /** Puts resources after checking them with Envoy's own validation rules. */
  ApplyResult put(Message... resources) {
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (Message resource : resources) {
      EnvoyValidator.requireValid(resource);
      batch.put(resource);
    }
    return apply(batch.build());
  }

  /** Every stream's status as the admin API shows it. */
  List<ClientStatus> clients() {
    return SyncStatusMessages.of(xds.clients()).getClientsList();
  }

  /** The status of the only stream of a node id. */
  Optional<ClientStatus> client(String nodeId) {
    return clients().stream().filter(c -> c.getNodeId().equals(nodeId)).findFirst();
  }

  /** The status of one type of the only stream of a node id. */
  Optional<TypeStatus> typeStatus(String nodeId, ResourceType type) {
    return client(nodeId)
        .flatMap(c -> c.getTypesList().stream().filter(t -> t.getTypeUrl().equals(type.typeUrl())).findFirst());
  }

  /** Waits until the server has processed the ACK of the latest response of that type. */
  void awaitSynced(String nodeId, ResourceType type) {
    org.awaitility.Awaitility.await()
        .untilAsserted(
            () -> assertThat(typeStatus(nodeId, type).map(TypeStatus::getState))
                .contains(io.nodemesh.api.admin.v1.SyncState.SYNCED));
  }

  /** The server-side stream of a node id (for the pending-work assertion). */
  AdsStream<?, ?> stream(String nodeId) {
    return xds.streams().stream()
        .filter(s -> s.nodeId().equals(nodeId))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no stream for " + nodeId));
  }

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
    try {
      assertThat(server.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    xds.close();
  }
}
