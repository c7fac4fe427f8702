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
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.log.LogThrottle;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.ArrayList;
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
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The ADS server: {@code StreamAggregatedResources} (SotW) and {@code DeltaAggregatedResources} (delta)
 * over one {@link ResourceStore}. Register {@link #service()} on a gRPC server; read per-stream status
 * with {@link #clients()} and counters with {@link #metrics()}.
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

  private final ResourceStore store;
  private final XdsServerOptions options;
  private final XdsMetrics metrics = new XdsMetrics();
  private final Quarantine quarantine;
  /** Per client address: open streams and bytes of subscribed names; an entry goes when its last stream does. */
  private final Map<String, AddressUsage> usageByAddress = new ConcurrentHashMap<>();
  /** Open streams over all clients (global limit), counted from the moment a stream is admitted. */
  private final AtomicInteger openStreams = new AtomicInteger();
  /** Refused streams and other limits a client can hit are logged at this pace at most, over all clients. */
  private final LogThrottle limitLog = new LogThrottle(XdsTunables.LIMIT_LOG_INTERVAL_MILLIS);
  private final ScheduledExecutorService timers;
  private final XdsEventListener listener;
  private final Clock clock;
  private final ExecutorService pool;
  private final AtomicLong streamIds = new AtomicLong();
  private final Map<Long, AdsStream<?, ?>> streams = new ConcurrentHashMap<>();
  /** Envoys of a cluster subscribe to largely the same EDS/RDS names: keep one copy per distinct set. */
  private final Interner<ImmutableSet<String>> names = Interners.newWeakInterner();
  private final ResourceStore.ChangeListener storeListener = this::onStoreChange;
  /** What the streams may use of this server: they get this, never the server itself. */
  private final StreamContext context = new ServerContext();
  /** Re-anchoring sweep state; touched only in the store's context. */
  private long lastSweepMillis;
  private long sweepGeneration;
  private volatile boolean closed;

  private XdsServer(ResourceStore store, XdsEventListener listener, Clock clock, XdsServerOptions options) {
    this.store = store;
    this.listener = listener;
    this.clock = clock;
    this.options = options;
    this.quarantine = new Quarantine(options.quarantineMaxPerClient(), options.quarantineMaxTotal());
    ScheduledThreadPoolExecutor timerPool = new ScheduledThreadPoolExecutor(1,
        new ThreadFactoryBuilder().setNameFormat("xds-timer-%d").setDaemon(true).build());
    // a cancelled timer must let go of its stream at once: refused clients that reconnect in a loop would
    // otherwise keep every closed stream (and what it subscribed to) until its deadline
    timerPool.setRemoveOnCancelPolicy(true);
    this.timers = timerPool;
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
              long suppressed = limitLog.admit();
              if (suppressed >= 0) {
                AdsStream.log.warn(
                    "xDS request too large, stream closed with RESOURCE_EXHAUSTED: method={} peer={} {}"
                        + " (--xds-max-request-bytes){}",
                    fullMethodName, new ClientCredentials(null, remote, null).peerText(), description,
                    LogThrottle.suppressedNote(suppressed));
              }
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

  /** Every connected, identified stream, sorted by node id then stream id. */
  public ImmutableList<StreamStatus> clients() {
    return streams.values().stream()
        .map(AdsStream::status)
        .sorted(Comparator.comparing(StreamStatus::nodeId).thenComparingLong(StreamStatus::streamId))
        .collect(ImmutableList.toImmutableList());
  }

  /**
   * The node agents' pin reports (issue 16) on this server's port, with the same interceptor and authorization
   * as the ADS streams. {@code listenerName} names the outbound listener of a pinned pod.
   */
  public ServerServiceDefinition pinService(NodePinService.Sink sink,
      Function<Pin, String> listenerName) {
    return ServerInterceptors.intercept(
        new NodePinService(context, this::streamsOfNode, sink, listenerName).definition(),
        new ConnectionInterceptor());
  }

  /** The authorized streams whose view is {@code nodeName}'s. */
  private List<AdsStream<?, ?>> streamsOfNode(String nodeName) {
    List<AdsStream<?, ?>> ofNode = new ArrayList<>();
    for (AdsStream<?, ?> stream : streams.values()) {
      NodeIdentity who = stream.identity();
      if (who != null && who.nodeName().equals(nodeName)) {
        ofNode.add(stream);
      }
    }
    return ofNode;
  }

  /** The streams serving one Kubernetes node. */
  public ImmutableList<StreamStatus> clientsOfNode(String nodeName) {
    // only that node's streams: /debug/pods asks once per listed pod
    return streamsOfNode(nodeName).stream()
        .map(AdsStream::status)
        .sorted(Comparator.comparing(StreamStatus::nodeId).thenComparingLong(StreamStatus::streamId))
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

  /** Timers still waiting (tests: a closed or authorized stream leaves none behind). */
  int pendingTimers() {
    return ((ScheduledThreadPoolExecutor) timers).getQueue().size();
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
        stream.markChanged(bits, snapshot.generation());
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
      streams.values().forEach(stream -> {
        NodeIdentity who = stream.identity();
        if (who != null) {
          live.add(who.principal());
        }
      });
      quarantine.sweep(snapshot, live, now, options.quarantineForgetMillis());
    }
  }

  static ClientConnection connection() {
    ClientConnection connection = CONNECTION.get();
    return connection == null ? ClientConnection.UNKNOWN : connection;
  }

  /** The server as its streams see it. */
  private final class ServerContext implements StreamContext {
    @Override
    public XdsServerOptions options() {
      return options;
    }

    @Override
    public XdsMetrics metrics() {
      return metrics;
    }

    @Override
    public Quarantine quarantine() {
      return quarantine;
    }

    @Override
    public XdsEventListener listener() {
      return listener;
    }

    @Override
    public Clock clock() {
      return clock;
    }

    @Override
    public LogThrottle limitLog() {
      return limitLog;
    }

    @Override
    public StoreSnapshot snapshot() {
      return store.snapshot();
    }

    @Override
    public LayerChange layerChanges() {
      return store.layerChanges();
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
      if (!closed) {
        try {
          return timers.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
          AdsStream.log.debug("timer task dropped: server closed");
        }
      }
      return null;
    }

    @Override
    public ImmutableSet<String> internNames(ImmutableSet<String> set) {
      return set.isEmpty() ? ImmutableSet.of() : names.intern(set);
    }

    @Override
    public void register(AdsStream<?, ?> stream) {
      streams.put(stream.id, stream);
    }

    @Override
    public void unregister(AdsStream<?, ?> stream) {
      streams.remove(stream.id);
    }
  }

  /** What one client address holds: open streams and bytes of subscribed names. Guarded by the map's compute. */
  private static final class AddressUsage {
    int streams;
    long nameBytes;
  }

  /**
   * A stream's share of the server's limits: a place among all streams and, unless its address is exempt,
   * among its address's streams, plus the bytes of names it subscribed to. Released once, when it closes.
   */
  final class Slot {
    private final String address;
    private final AtomicBoolean released = new AtomicBoolean();
    private long nameBytes;

    private Slot(String address) {
      this.address = address;
    }

    /**
     * Charges the stream's subscribed names as {@code bytes} (replacing its previous charge); returns false and
     * charges nothing when the address would exceed {@link XdsServerOptions#maxNameBytesPerAddress()}.
     * Called on the stream's executor.
     */
    boolean chargeNames(long bytes) {
      long max = options.maxNameBytesPerAddress();
      if (address == null || max == 0) {
        nameBytes = bytes;
        return true;
      }
      long delta = bytes - nameBytes;
      boolean[] fits = {true};
      usageByAddress.computeIfPresent(address, (key, usage) -> {
        if (delta > 0 && usage.nameBytes + delta > max) {
          fits[0] = false;
        } else {
          usage.nameBytes += delta;
        }
        return usage;
      });
      if (fits[0]) {
        nameBytes = bytes;
      }
      return fits[0];
    }

    /** Gives the places and the charged bytes back; later calls do nothing. */
    void release() {
      if (!released.compareAndSet(false, true)) {
        return;
      }
      openStreams.decrementAndGet();
      if (address != null) {
        long bytes = nameBytes;
        usageByAddress.computeIfPresent(address, (key, usage) -> {
          usage.streams--;
          usage.nameBytes -= bytes;
          return usage.streams <= 0 ? null : usage;
        });
      }
    }
  }

  /**
   * Takes a place for a new stream; returns it, or null (after refusing the stream with RESOURCE_EXHAUSTED) when
   * the server or the client's address is at its limit.
   */
  private Slot acquireSlot(ClientConnection connection, StreamObserver<?> responses) {
    int maxTotal = options.maxStreams();
    if (openStreams.incrementAndGet() > maxTotal && maxTotal > 0) {
      openStreams.decrementAndGet();
      refuse(responses, XdsMetrics.Limit.STREAMS_TOTAL, "the xDS server already serves " + maxTotal
          + " streams, its limit (--xds-max-streams)");
      return null;
    }
    ClientCredentials who = new ClientCredentials(null, connection.remote(), null);
    boolean exempt = options.loopbackExempt() && who.peerAddress().map(InetAddress::isLoopbackAddress).orElse(false);
    if (exempt) {
      return new Slot(null);
    }
    String key = who.peerText();
    int max = options.maxStreamsPerAddress();
    boolean[] admitted = new boolean[1];
    usageByAddress.compute(key, (k, usage) -> {
      AddressUsage current = usage == null ? new AddressUsage() : usage;
      admitted[0] = max == 0 || current.streams < max;
      if (admitted[0]) {
        current.streams++;
      }
      return current.streams == 0 ? null : current;
    });
    if (!admitted[0]) {
      openStreams.decrementAndGet();
      refuse(responses, XdsMetrics.Limit.STREAMS_PER_ADDRESS, "too many xDS streams from " + key + ": the limit is "
          + max + " per client address (--xds-max-streams-per-address)");
      return null;
    }
    return new Slot(key);
  }

  private void refuse(StreamObserver<?> responses, XdsMetrics.Limit limit, String message) {
    metrics.limited(limit);
    long suppressed = limitLog.admit();
    if (suppressed >= 0) {
      AdsStream.log.warn("xDS stream refused: {}{}", message, LogThrottle.suppressedNote(suppressed));
    }
    responses.onError(Status.RESOURCE_EXHAUSTED.withDescription(message).asRuntimeException());
  }

  /** The request observer of a refused stream: it reads nothing. */
  private static <T> StreamObserver<T> ignoring() {
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
      Slot slot = acquireSlot(connection, responseObserver);
      if (slot == null) {
        return ignoring();
      }
      return new SotwStream(
              streamIds.incrementAndGet(),
              context,
              (ServerCallStreamObserver<DiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              connection,
              slot)
          .start();
    }

    @Override
    public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(
        StreamObserver<DeltaDiscoveryResponse> responseObserver) {
      ClientConnection connection = connection();
      Slot slot = acquireSlot(connection, responseObserver);
      if (slot == null) {
        return ignoring();
      }
      return new DeltaStream(
              streamIds.incrementAndGet(),
              context,
              (ServerCallStreamObserver<DeltaDiscoveryResponse>) responseObserver,
              MoreExecutors.newSequentialExecutor(pool),
              connection,
              slot)
          .start();
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
