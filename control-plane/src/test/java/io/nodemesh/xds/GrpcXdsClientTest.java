package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.apiListener;
import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.nodemesh.admin.SyncStatusMessages;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.testkit.GrpcBackends;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A real peer: grpc-java's own xDS client resolves {@code xds:///} through our server (LDS -> RDS -> CDS ->
 * EDS, SotW) and sends real RPCs to gRPC servers on 127.0.0.2 and 127.0.0.3, moving when endpoints move.
 */
class GrpcXdsClientTest {

  private static final String TARGET = "echo.default.svc.cluster.local:8080";
  private static final String SERVICE = "svc/default/echo/8080";


  private final ResourceStore store = new ResourceStore();
  private final XdsServer xds = XdsServer.create(store);
  private Server xdsServer;
  private Server backendA;
  private Server backendB;
  private ManagedChannel channel;

  @AfterEach
  void close() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server server : new Server[] {xdsServer, backendA, backendB}) {
      if (server != null) {
        server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
    xds.close();
  }

  private static Server backend(String host, String name) throws IOException {
    return GrpcBackends.start(host, 0, name);
  }

  private void put(Message... resources) throws Exception {
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (Message resource : resources) {
      EnvoyValidator.requireValid(resource);
      batch.put(resource);
    }
    store.apply(batch.build()).get(10, TimeUnit.SECONDS);
  }

  private String ask() {
    return GrpcBackends.ask(channel, 5_000, true);
  }

  @Test
  void grpcJavasXdsClientFollowsOurResourcesToRealBackendsAndMovesWhenEndpointsChange() throws Exception {
    xdsServer =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(xds.service()).build().start();
    backendA = backend("127.0.0.2", "backend-a");
    backendB = backend("127.0.0.3", "backend-b");
    put(
        apiListener(TARGET, SERVICE),
        route(SERVICE, SERVICE),
        cluster(SERVICE),
        endpoints(SERVICE, "127.0.0.2", backendA.getPort()));

    channel = GrpcBackends.proxylessChannel(TARGET, xdsServer.getPort(), "grpc-proxyless-client");

    assertThat(ask()).isEqualTo("backend-a");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      ClientStatus client = SyncStatusMessages.of(xds.clients()).getClientsList().get(0);
      assertThat(client.getKind()).isEqualTo("proxyless");
      assertThat(client.getProtocol()).isEqualTo("sotw");
      assertThat(client.getTypesList()).hasSize(4).allSatisfy(t -> assertThat(t.getState()).isEqualTo(SyncState.SYNCED));
    });

    put(endpoints(SERVICE, "127.0.0.3", backendB.getPort()));

    await().atMost(Duration.ofSeconds(10)).until(() -> ask().equals("backend-b"));
    for (int i = 0; i < 5; i++) {
      assertThat(ask()).isEqualTo("backend-b");
    }
    assertThat(xds.metrics().nacks().values()).allSatisfy(n -> assertThat(n).isZero());
  }
}
