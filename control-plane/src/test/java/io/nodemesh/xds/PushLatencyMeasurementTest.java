package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.nodemesh.admin.SyncStatusMessages;
import io.nodemesh.api.admin.v1.SyncState;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.LoggerFactory;

/**
 * Opt-in measurement ({@code -Dnodemesh.measure=true}): 1,000 delta streams, each a node Envoy with one
 * listener, ten shared clusters and their endpoints. Measures (a) one changed listener to its one stream
 * and (b) one changed ClusterLoadAssignment to all 1,000 streams, until every client received it.
 * {@code -Dnodemesh.measure.transport=inprocess} skips the loopback network. Results go to stdout and
 * {@code target/push-latency.txt}. Not a pass/fail benchmark: it only checks that every push arrived.
 */
@EnabledIfSystemProperty(named = "nodemesh.measure", matches = "true")
class PushLatencyMeasurementTest {

  private static final int STREAMS = Integer.getInteger("nodemesh.measure.streams", 1000);
  private static final int CHANNELS = 50;
  private static final int SERVICES = 10;
  private static final int LISTENER_ROUNDS = 50;
  private static final int ENDPOINT_ROUNDS = 20;

  /** A minimal delta client: subscribes, ACKs everything, and reports when an awaited version arrives. */
  private static final class Client implements StreamObserver<DeltaDiscoveryResponse> {
    final int index;
    StreamObserver<DeltaDiscoveryRequest> requests;
    volatile String awaitedName;
    volatile String awaitedVersion;
    volatile CountDownLatch arrived;
    volatile long arrivedAtNanos;
    final CountDownLatch initial = new CountDownLatch(3);

    Client(int index) {
      this.index = index;
    }

    void expect(String name, String version, CountDownLatch latch) {
      arrivedAtNanos = 0;
      awaitedName = name;
      awaitedVersion = version;
      arrived = latch;
    }

    @Override
    public synchronized void onNext(DeltaDiscoveryResponse response) {
      requests.onNext(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(response.getTypeUrl())
              .setResponseNonce(response.getNonce())
              .build());
      initial.countDown();
      String name = awaitedName;
      for (var resource : response.getResourcesList()) {
        if (resource.getName().equals(name) && resource.getVersion().equals(awaitedVersion)) {
          arrivedAtNanos = System.nanoTime();
          awaitedName = null;
          arrived.countDown();
        }
      }
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}

    synchronized void subscribe(DeltaDiscoveryRequest request) {
      requests.onNext(request);
    }
  }

  @Test
  void measurePushLatencyToOneAndToAllOfAThousandDeltaStreams() throws Exception {
    ((Logger) LoggerFactory.getLogger("io.nodemesh.xds")).setLevel(Level.WARN);
    boolean inProcess = "inprocess".equals(System.getProperty("nodemesh.measure.transport"));
    ResourceStore store = new ResourceStore();
    XdsServer xds = XdsServer.create(store);

    UpdateBatch.Builder seed = UpdateBatch.builder();
    List<String> clusters = new ArrayList<>();
    for (int s = 0; s < SERVICES; s++) {
      String name = "svc/default/s" + s + "/80";
      clusters.add(name);
      seed.put(cluster(name)).put(endpoints(name, "10.1.0." + s, 8080, 8081, 8082));
    }
    for (int n = 0; n < STREAMS; n++) {
      String listener = "pod/default/p" + n + "/outbound";
      seed.put(listener(listener, clusters.get(n % SERVICES))).putNode("node-" + n, Set.of(listener), clusters);
    }
    store.apply(seed.build()).get(30, TimeUnit.SECONDS);

    Server server;
    List<ManagedChannel> channels = new ArrayList<>();
    if (inProcess) {
      String name = InProcessServerBuilder.generateName();
      server = InProcessServerBuilder.forName(name).addService(xds.service()).build().start();
      channels.add(InProcessChannelBuilder.forName(name).build());
    } else {
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(xds.service()).build().start();
      for (int c = 0; c < CHANNELS; c++) {
        channels.add(NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build());
      }
    }
    StringBuilder report = new StringBuilder();
    try {
      long connectStart = System.nanoTime();
      Client[] clients = new Client[STREAMS];
      for (int n = 0; n < STREAMS; n++) {
        Client client = new Client(n);
        clients[n] = client;
        client.requests =
            AggregatedDiscoveryServiceGrpc.newStub(channels.get(n % channels.size())).deltaAggregatedResources(client);
        client.subscribe(
            DeltaDiscoveryRequest.newBuilder()
                .setNode(envoyNode("envoy-" + n, "node-" + n))
                .setTypeUrl(ResourceType.CLUSTER.typeUrl())
                .build());
        client.subscribe(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ResourceType.ENDPOINT.typeUrl()).addAllResourceNamesSubscribe(clusters).build());
        client.subscribe(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ResourceType.LISTENER.typeUrl()).build());
      }
      for (Client client : clients) {
        assertThat(client.initial.await(60, TimeUnit.SECONDS)).as("initial responses of stream %d", client.index).isTrue();
      }
      long connectMillis = (System.nanoTime() - connectStart) / 1_000_000;
      assertThat(xds.connectedStreams()).isEqualTo(STREAMS);
      long synced =
          SyncStatusMessages.of(xds.clients()).getClientsList().stream().filter(c -> c.getTypesList().stream().allMatch(t -> t.getState() == SyncState.SYNCED)).count();
      report.append(String.format("transport=%s streams=%d%n", inProcess ? "inprocess" : "netty-loopback(" + CHANNELS + " connections)", STREAMS));
      report.append(String.format("cold start: all %d streams received CDS+EDS+LDS in %d ms (%d fully SYNCED right after)%n", STREAMS, connectMillis, synced));

      // (a) one changed listener -> its node's one stream
      long[] listenerMicros = new long[LISTENER_ROUNDS];
      for (int round = 0; round < LISTENER_ROUNDS; round++) {
        int n = (round * 37) % STREAMS;
        String name = "pod/default/p" + n + "/outbound";
        var changed = listener(name, clusters.get(n % SERVICES), 20000 + round);
        CountDownLatch latch = new CountDownLatch(1);
        clients[n].expect(name, Resource.of(changed).version(), latch);
        UpdateBatch batch = UpdateBatch.builder().put(changed).build();
        long start = System.nanoTime();
        store.apply(batch);
        assertThat(latch.await(30, TimeUnit.SECONDS)).as("listener push round %d", round).isTrue();
        listenerMicros[round] = (clients[n].arrivedAtNanos - start) / 1_000;
      }
      report.append("(a) one changed listener to one of " + STREAMS + " streams (apply -> received), " + summary(listenerMicros) + "\n");

      // (b) one changed endpoint set -> all streams
      long[] allMicros = new long[ENDPOINT_ROUNDS];
      long[] medianMicros = new long[ENDPOINT_ROUNDS];
      AtomicLong bytesBefore = new AtomicLong(xds.metrics().pushBytes().get(ResourceType.ENDPOINT));
      for (int round = 0; round < ENDPOINT_ROUNDS; round++) {
        String name = clusters.get(0);
        var changed = endpoints(name, "10.2.0.1", 9000 + round);
        String version = Resource.of(changed).version();
        CountDownLatch latch = new CountDownLatch(STREAMS);
        for (Client client : clients) {
          client.expect(name, version, latch);
        }
        UpdateBatch batch = UpdateBatch.builder().put(changed).build();
        long start = System.nanoTime();
        store.apply(batch);
        assertThat(latch.await(60, TimeUnit.SECONDS)).as("endpoint push round %d", round).isTrue();
        long[] each = Arrays.stream(clients).mapToLong(c -> (c.arrivedAtNanos - start) / 1_000).sorted().toArray();
        allMicros[round] = each[each.length - 1];
        medianMicros[round] = each[each.length / 2];
      }
      long bytes = xds.metrics().pushBytes().get(ResourceType.ENDPOINT) - bytesBefore.get();
      report.append("(b) one changed ClusterLoadAssignment to all " + STREAMS + " streams (apply -> last stream received), " + summary(allMicros) + "\n");
      report.append("    per round, median stream received after: " + summary(medianMicros) + "\n");
      report.append(String.format("    EDS bytes pushed per round: %d (%d per stream)%n", bytes / ENDPOINT_ROUNDS, bytes / ENDPOINT_ROUNDS / STREAMS));
      report.append("cores=" + Runtime.getRuntime().availableProcessors() + " stream threads=" + XdsTunables.STREAM_THREADS + "\n");
    } finally {
      for (ManagedChannel channel : channels) {
        channel.shutdownNow();
      }
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      xds.close();
    }
    System.out.println("\n==== push latency ====\n" + report);
    Files.writeString(Path.of("target", "push-latency.txt"), report.toString(), StandardCharsets.UTF_8);
  }

  private static String summary(long[] micros) {
    long[] sorted = micros.clone();
    Arrays.sort(sorted);
    return String.format(
        "n=%d p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms",
        sorted.length,
        sorted[sorted.length / 2] / 1000.0,
        sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)] / 1000.0,
        sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] / 1000.0,
        sorted[sorted.length - 1] / 1000.0);
  }
}
