package io.nodemesh.agent;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The node Envoy's stand-in for the real-namespace tests: a delta ADS client of one node that, for every listener
 * it receives with a {@code network_namespace_filepath}, really opens TCP {@code 0.0.0.0:<port>} inside that
 * namespace (a perl process under {@code nsenter --net=<path>}, entering the pin as Envoy does; SO_REUSEPORT as
 * Envoy's listeners, so two Envoys of a node can both listen) and answers each connection with "envoy <port>";
 * only then does it ACK. A removed listener's process is stopped before the removal is ACKed. An optional delay
 * before acting on a response plays a slow Envoy or control plane.
 */
final class StandInEnvoy implements AutoCloseable {

  private static final String SERVER = "use Socket; socket(S, PF_INET, SOCK_STREAM, 0) or die \"socket: $!\";"
      + " setsockopt(S, SOL_SOCKET, SO_REUSEADDR, 1); setsockopt(S, SOL_SOCKET, 15, 1) or die \"SO_REUSEPORT: $!\";"
      + " bind(S, sockaddr_in($ARGV[0], INADDR_ANY)) or die \"bind: $!\"; listen(S, 128) or die \"listen: $!\";"
      + " $| = 1; print \"ready\\n\"; while (accept(C, S)) { print C \"envoy $ARGV[0]\\n\"; close C; }";

  private final String id;
  private final ManagedChannel channel;
  private final ExecutorService worker;
  private final Map<String, Process> open = new ConcurrentHashMap<>();
  private final Set<String> failed = ConcurrentHashMap.newKeySet();
  private volatile Duration delay = Duration.ZERO;
  private StreamObserver<DeltaDiscoveryRequest> requests;

  StandInEnvoy(String id, String nodeName, int xdsPort) {
    this.id = id;
    this.channel = NettyChannelBuilder.forAddress("127.0.0.1", xdsPort).usePlaintext().build();
    this.worker = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "stand-in-envoy-" + id);
      thread.setDaemon(true);
      return thread;
    });
    requests = AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(new StreamObserver<>() {
      @Override
      public void onNext(DeltaDiscoveryResponse response) {
        worker.execute(() -> apply(response));
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    });
    requests.onNext(DeltaDiscoveryRequest.newBuilder()
        .setNode(Node.newBuilder().setId(id).setCluster("nodemesh").setMetadata(Struct.newBuilder()
            .putFields("node_name", Value.newBuilder().setStringValue(nodeName).build())))
        .setTypeUrl("type.googleapis.com/envoy.config.listener.v3.Listener")
        .build());
  }

  /** From now on, each response is acted on only after {@code value} (a slow Envoy or push). */
  StandInEnvoy delay(Duration value) {
    this.delay = value;
    return this;
  }

  /** The listeners whose socket is open now. */
  Set<String> openListeners() {
    return Set.copyOf(open.keySet());
  }

  /** Listeners it could not open (the namespace was missing): Envoy would have rejected or failed them. */
  Set<String> failedListeners() {
    return Set.copyOf(failed);
  }

  private void apply(DeltaDiscoveryResponse response) {
    try {
      if (!delay.isZero()) {
        Thread.sleep(delay.toMillis());
      }
      for (String removed : response.getRemovedResourcesList()) {
        close(removed);
      }
      for (Resource resource : response.getResourcesList()) {
        Listener listener = resource.getResource().unpack(Listener.class);
        SocketAddress address = listener.getAddress().getSocketAddress();
        if (address.getNetworkNamespaceFilepath().isEmpty()) {
          continue;
        }
        close(listener.getName()); // an update: Envoy replaces the listener (same socket); reopening is close enough
        open(listener.getName(), address.getNetworkNamespaceFilepath(), address.getPortValue());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
    synchronized (this) {
      requests.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl())
          .setResponseNonce(response.getNonce()).build());
    }
  }

  private void open(String name, String netns, int port) {
    try {
      Process process = new ProcessBuilder("nsenter", "--net=" + netns, "perl", "-e", SERVER, Integer.toString(port))
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      if ("ready".equals(NetnsLab.firstLine(process, Duration.ofSeconds(10)))) {
        open.put(name, process);
        failed.remove(name);
      } else {
        process.destroyForcibly();
        failed.add(name);
      }
    } catch (Exception e) {
      failed.add(name);
    }
  }

  private void close(String name) throws InterruptedException {
    Process process = open.remove(name);
    if (process != null) {
      process.destroy();
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      requests.onCompleted();
    }
    channel.shutdownNow();
    worker.shutdownNow();
    for (String name : List.copyOf(open.keySet())) {
      Process process = open.remove(name);
      process.destroyForcibly();
    }
  }

  @Override
  public String toString() {
    return "StandInEnvoy{" + id + ", open=" + open.keySet() + "}";
  }
}
