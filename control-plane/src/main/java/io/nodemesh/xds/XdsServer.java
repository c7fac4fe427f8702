package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import com.google.common.collect.Interner;
import com.google.common.collect.Interners;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.SyncStatus;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The ADS server: {@code StreamAggregatedResources} (SotW) and {@code DeltaAggregatedResources} (delta)
 * over one {@link ResourceStore}. Register {@link #service()} on a gRPC server; read per-stream status
 * with {@link #syncStatus()} and counters with {@link #metrics()}.
 *
 * <p>Threading: each stream runs on its own sequential executor over a shared pool of
 * {@link XdsTunables#STREAM_THREADS} threads. Store changes arrive in the store's context and only mark
 * affected streams dirty.
 */
public final class XdsServer implements AutoCloseable {

  private static final Context.Key<SocketAddress> PEER = Context.key("nodemesh-xds-peer");

  private final ResourceStore store;
  private final XdsMetrics metrics = new XdsMetrics();
  private final XdsEventListener listener;
  private final Clock clock;
  private final ExecutorService pool;
  private final AtomicLong streamIds = new AtomicLong();
  private final Map<Long, AdsStream<?, ?>> streams = new ConcurrentHashMap<>();
  /** Envoys of a cluster subscribe to largely the same EDS/RDS names: keep one copy per distinct set. */
  private final Interner<ImmutableSet<String>> names = Interners.newWeakInterner();
  private final ResourceStore.ChangeListener storeListener = this::onStoreChange;
  /** Re-anchoring sweep state; touched only in the store's context. */
  private long lastSweepMillis;
  private long sweepGeneration;
  private volatile boolean closed;

  private XdsServer(ResourceStore store, XdsEventListener listener, Clock clock) {
    this.store = store;
    this.listener = listener;
    this.clock = clock;
    this.pool =
        Executors.newFixedThreadPool(
            XdsTunables.STREAM_THREADS,
            new ThreadFactoryBuilder().setNameFormat("xds-stream-%d").setDaemon(true).build());
    this.lastSweepMillis = clock.millis();
    store.addListener(storeListener);
  }

  /** A server over {@code store} with no event listener and the system clock. */
  public static XdsServer create(ResourceStore store) {
    return new XdsServer(store, XdsEventListener.NONE, Clock.systemUTC());
  }

  /** A server over {@code store} that reports ACKs and NACKs to {@code listener}. */
  public static XdsServer create(ResourceStore store, XdsEventListener listener, Clock clock) {
    return new XdsServer(store, listener, clock);
  }

  /** The ADS gRPC service (with the interceptor that records each stream's peer address). */
  public ServerServiceDefinition service() {
    return ServerInterceptors.intercept(new Service(), new PeerInterceptor());
  }

  /** Every connected, identified stream, sorted by node id then stream id. */
  public ImmutableList<ClientStatus> clients() {
    return streams.values().stream()
        .map(AdsStream::status)
        .sorted(Comparator.comparing(ClientStatus::getNodeId).thenComparing(c -> Long.parseLong(c.getStreamId())))
        .collect(ImmutableList.toImmutableList());
  }

  /** {@link #clients()} as the admin API's message. */
  public SyncStatus syncStatus() {
    return SyncStatus.newBuilder().addAllClients(clients()).build();
  }

  /** The streams serving one Kubernetes node. */
  public ImmutableList<ClientStatus> clientsOfNode(String nodeName) {
    return clients().stream()
        .filter(client -> client.getNodeName().equals(nodeName))
        .collect(ImmutableList.toImmutableList());
  }

  /** Counter values. */
  public XdsMetrics.Snapshot metrics() {
    return metrics.snapshot();
  }

  /** Number of connected, identified streams. */
  public int connectedStreams() {
    return streams.size();
  }

  /** The store this server serves. */
  public ResourceStore store() {
    return store;
  }

  /** Stops the stream threads; close the gRPC server first so no stream is left waiting. */
  @Override
  public void close() {
    closed = true;
    store.removeListener(storeListener);
    pool.shutdown();
    try {
      if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
        pool.shutdownNow();
      }
    } catch (InterruptedException e) {
      pool.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** For the streams: the internal counters object. */
  XdsMetrics metricsInternal() {
    return metrics;
  }

  XdsEventListener listener() {
    return listener;
  }

  Clock clock() {
    return clock;
  }

  ImmutableSet<String> internNames(ImmutableSet<String> set) {
    return set.isEmpty() ? ImmutableSet.of() : names.intern(set);
  }

  void register(AdsStream<?, ?> stream) {
    streams.put(stream.id, stream);
  }

  void unregister(AdsStream<?, ?> stream) {
    streams.remove(stream.id);
  }

  /** Live streams, for tests in this package. */
  List<AdsStream<?, ?>> streams() {
    return List.copyOf(streams.values());
  }

  private void onStoreChange(StoreSnapshot snapshot, StoreChange change) {
    if (closed) {
      return;
    }
    for (AdsStream<?, ?> stream : streams.values()) {
      int bits = stream.affectedTypes(snapshot, change);
      if (bits != 0) {
        stream.markDirty(bits);
      }
    }
    long now = clock.millis();
    if (now - lastSweepMillis >= XdsTunables.REANCHOR_INTERVAL_MILLIS) {
      // streams not pushed to since the last sweep: a diff against the current tables (normally empty,
      // so nothing is sent) re-anchors them and lets old tables be collected
      for (AdsStream<?, ?> stream : streams.values()) {
        int bits = stream.typesAnchoredBefore(sweepGeneration);
        if (bits != 0) {
          stream.markDirty(bits);
        }
      }
      lastSweepMillis = now;
      sweepGeneration = snapshot.generation();
    }
  }

  private String peer() {
    SocketAddress address = PEER.get();
    return address == null ? "" : address.toString();
  }

  private final class Service extends AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase {
    @Override
    public StreamObserver<DiscoveryRequest> streamAggregatedResources(
        StreamObserver<DiscoveryResponse> responseObserver) {
      SotwStream stream =
          new SotwStream(
              streamIds.incrementAndGet(),
              XdsServer.this,
              (ServerCallStreamObserver<DiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              peer());
      return stream.start();
    }

    @Override
    public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(
        StreamObserver<DeltaDiscoveryResponse> responseObserver) {
      DeltaStream stream =
          new DeltaStream(
              streamIds.incrementAndGet(),
              XdsServer.this,
              (ServerCallStreamObserver<DeltaDiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              peer());
      return stream.start();
    }
  }

  private static final class PeerInterceptor implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
        ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      Context context = Context.current().withValue(PEER, call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
      return Contexts.interceptCall(context, call, headers, next);
    }
  }
}
