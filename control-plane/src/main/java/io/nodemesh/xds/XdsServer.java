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
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.QuarantinedResource;
import io.nodemesh.api.admin.v1.SyncStatus;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

  private static final Context.Key<ClientConnection> CONNECTION = Context.key("nodemesh-xds-connection");
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  /** A bound service account token is ~1 KiB; anything far larger is not one. */
  private static final int MAX_TOKEN_CHARS = 16 * 1024;
  /** Quarantined resources of clients that stay disconnected this long are forgotten. */
  private static final long QUARANTINE_FORGET_MILLIS = 60 * 60 * 1000;

  private final ResourceStore store;
  private final XdsServerOptions options;
  private final XdsMetrics metrics = new XdsMetrics();
  private final Quarantine quarantine = new Quarantine();
  /** Open streams per client address (per-address limit); keys are removed when their count drops to 0. */
  private final Map<String, Integer> streamsByAddress = new ConcurrentHashMap<>();
  private final ScheduledExecutorService timers;
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

  private XdsServer(ResourceStore store, XdsEventListener listener, Clock clock, XdsServerOptions options) {
    this.store = store;
    this.listener = listener;
    this.clock = clock;
    this.options = options;
    this.timers = Executors.newSingleThreadScheduledExecutor(
        new ThreadFactoryBuilder().setNameFormat("xds-timer-%d").setDaemon(true).build());
    this.pool =
        Executors.newFixedThreadPool(
            XdsTunables.STREAM_THREADS,
            new ThreadFactoryBuilder().setNameFormat("xds-stream-%d").setDaemon(true).build());
    this.lastSweepMillis = clock.millis();
    store.addListener(storeListener);
  }

  /** A server over {@code store} with no event listener and the system clock. */
  public static XdsServer create(ResourceStore store) {
    return new XdsServer(store, XdsEventListener.NONE, Clock.systemUTC(), XdsServerOptions.DEFAULTS);
  }

  /** A server over {@code store} that reports ACKs and NACKs to {@code listener}. */
  public static XdsServer create(ResourceStore store, XdsEventListener listener, Clock clock) {
    return new XdsServer(store, listener, clock, XdsServerOptions.DEFAULTS);
  }

  /** A server with authorization, limits and NACK isolation as {@code options} say. */
  public static XdsServer create(
      ResourceStore store, XdsEventListener listener, Clock clock, XdsServerOptions options) {
    return new XdsServer(store, listener, clock, options);
  }

  /**
   * The ADS gRPC service (with the interceptor that records each stream's peer address and bearer token).
   */
  public ServerServiceDefinition service() {
    return ServerInterceptors.intercept(new Service(), new ConnectionInterceptor());
  }

  /**
   * Add to the gRPC server builder: counts and logs streams that grpc-java ends because a request exceeded
   * the maximum inbound message size (it answers RESOURCE_EXHAUSTED itself, before our code sees the stream).
   */
  public ServerStreamTracer.Factory streamTracer() {
    return new ServerStreamTracer.Factory() {
      @Override
      public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        return new ServerStreamTracer() {
          private volatile ServerCallInfo<?, ?> call;

          @Override
          public void serverCallStarted(ServerCallInfo<?, ?> callInfo) {
            call = callInfo;
          }

          @Override
          public void streamClosed(Status status) {
            String description = status.getDescription();
            if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && description != null
                && description.contains("exceeds maximum")) {
              metrics.limited(XdsMetrics.Limit.MESSAGE_SIZE);
              ServerCallInfo<?, ?> info = call;
              SocketAddress remote = info == null ? null : info.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
              AdsStream.log.warn(
                  "xDS request too large, stream closed with RESOURCE_EXHAUSTED: method={} peer={} {}"
                      + " (--xds-max-request-bytes)",
                  fullMethodName, new ClientCredentials(null, remote, null).peerText(), description);
            }
          }
        };
      }
    };
  }

  /** The options in force. */
  public XdsServerOptions options() {
    return options;
  }

  /** Resources withheld from clients that rejected them (NACK isolation). */
  public Quarantine quarantine() {
    return quarantine;
  }

  /** A quarantine entry as the admin API shows it. */
  public static QuarantinedResource quarantinedStatus(Quarantine.Entry entry) {
    return QuarantinedResource.newBuilder()
        .setTypeUrl(entry.type().typeUrl())
        .setName(entry.name())
        .setVersion(entry.version())
        .setNackError(entry.error())
        .setNodeId(entry.nodeId())
        .setQuarantinedUnixMillis(entry.atMillis())
        .build();
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
    timers.shutdownNow();
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

  /** Runs {@code task} after {@code delayNanos} on the timer thread (it should hand work to a stream executor). */
  void schedule(Runnable task, long delayNanos) {
    if (!closed) {
      try {
        timers.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        AdsStream.log.debug("timer task dropped: server closed");
      }
    }
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
      Set<String> live = new HashSet<>();
      streams.values().forEach(stream -> live.add(stream.nodeId()));
      quarantine.sweep(snapshot, live, now, QUARANTINE_FORGET_MILLIS);
    }
  }

  private static ClientConnection connection() {
    ClientConnection connection = CONNECTION.get();
    return connection == null ? ClientConnection.UNKNOWN : connection;
  }

  /**
   * Takes a per-address stream slot; returns the release action, or null when the address is at its limit.
   */
  private Runnable acquireSlot(ClientConnection connection) {
    int max = options.maxStreamsPerAddress();
    if (max == 0) {
      return () -> {};
    }
    ClientCredentials who = new ClientCredentials(null, connection.remote(), null);
    if (options.loopbackExempt() && who.peerAddress().map(InetAddress::isLoopbackAddress).orElse(false)) {
      return () -> {};
    }
    String key = who.peerText();
    boolean[] admitted = new boolean[1];
    streamsByAddress.compute(key, (k, count) -> {
      int current = count == null ? 0 : count;
      admitted[0] = current < max;
      return admitted[0] ? current + 1 : (count == null ? null : count);
    });
    if (!admitted[0]) {
      return null;
    }
    AtomicBoolean released = new AtomicBoolean();
    return () -> {
      if (released.compareAndSet(false, true)) {
        streamsByAddress.computeIfPresent(key, (k, count) -> count <= 1 ? null : count - 1);
      }
    };
  }

  /** Refuses a stream over the per-address limit; returns the (ignored) request observer. */
  private <T> StreamObserver<T> refuseOverLimit(ClientConnection connection, StreamObserver<?> responses) {
    metrics.limited(XdsMetrics.Limit.STREAMS_PER_ADDRESS);
    String peer = new ClientCredentials(null, connection.remote(), null).peerText();
    String message = "too many xDS streams from " + peer + ": the limit is " + options.maxStreamsPerAddress()
        + " per client address (--xds-max-streams-per-address)";
    AdsStream.log.warn("xDS stream refused: {}", message);
    responses.onError(Status.RESOURCE_EXHAUSTED.withDescription(message).asRuntimeException());
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  private final class Service extends AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase {
    @Override
    public StreamObserver<DiscoveryRequest> streamAggregatedResources(
        StreamObserver<DiscoveryResponse> responseObserver) {
      ClientConnection connection = connection();
      Runnable release = acquireSlot(connection);
      if (release == null) {
        return refuseOverLimit(connection, responseObserver);
      }
      SotwStream stream =
          new SotwStream(
              streamIds.incrementAndGet(),
              XdsServer.this,
              (ServerCallStreamObserver<DiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              connection);
      stream.onRelease(release);
      return stream.start();
    }

    @Override
    public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(
        StreamObserver<DeltaDiscoveryResponse> responseObserver) {
      ClientConnection connection = connection();
      Runnable release = acquireSlot(connection);
      if (release == null) {
        return refuseOverLimit(connection, responseObserver);
      }
      DeltaStream stream =
          new DeltaStream(
              streamIds.incrementAndGet(),
              XdsServer.this,
              (ServerCallStreamObserver<DeltaDiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              connection);
      stream.onRelease(release);
      return stream.start();
    }
  }

  private static final class ConnectionInterceptor implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
        ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      ClientConnection connection =
          new ClientConnection(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), bearerToken(headers));
      Context context = Context.current().withValue(CONNECTION, connection);
      return Contexts.interceptCall(context, call, headers, next);
    }

    private static Optional<String> bearerToken(Metadata headers) {
      String value = headers.get(AUTHORIZATION);
      if (value == null || value.length() > MAX_TOKEN_CHARS || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        return Optional.empty();
      }
      String token = value.substring(7).trim();
      return token.isEmpty() ? Optional.empty() : Optional.of(token);
    }
  }
}
