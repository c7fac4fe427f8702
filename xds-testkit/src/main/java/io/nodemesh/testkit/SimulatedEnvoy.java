package io.nodemesh.testkit;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Attributes;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A stand-in for a node's Envoy, shared by the e2e tests, the benchmark and the demo: one real ADS stream (Delta or
 * SotW) over gRPC with the node identity the chart gives Envoy (node.id = Envoy pod name, metadata node_name = the
 * Kubernetes node). Like Envoy it subscribes wildcard CDS and LDS, then by name to the endpoints its clusters use
 * and the route configs its listeners use (dropping an EDS or RDS resource it no longer subscribes to); it ACKs
 * every response, or NACKs the ones a {@link Rejecter} refuses, and timestamps each resource's arrival.
 *
 * <p>It keeps each resource's content for tests to read; {@link Builder#lean} keeps only version, size and arrival
 * time, for 10,000 streams in one JVM (the benchmark). {@link Builder#recordHistory()} records every delivery;
 * {@link Builder#reconnectWith} reopens a lost stream after Envoy's jittered backoff, announcing what it holds.
 *
 * <p>Thread-safe: responses arrive on a gRPC thread and are handled under the client's lock; tests read through
 * synchronized getters, and {@link #when} conditions run under that lock after every response.
 */
public final class SimulatedEnvoy implements AutoCloseable {

  public static final String CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  public static final String EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  public static final String LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
  public static final String RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
  /** The types in make-before-break order. */
  public static final List<String> TYPES = List.of(CDS, EDS, LDS, RDS);

  /** Reconnect backoff, jittered: Envoy's base interval, capped low so a restart is not waited out for long. */
  private static final long MIN_BACKOFF_MILLIS = 250;
  private static final long MAX_BACKOFF_MILLIS = 4000;

  /**
   * One held resource: its version (SotW, which has no version per resource: a key of its content, so two clients
   * holding the same content agree), its content (null for a {@link Builder#lean} client), its size and when it arrived ({@link System#nanoTime()}).
   */
  public record Received(String version, Any resource, int bytes, long arrivedNanos) {}

  /**
   * One accepted delivery in {@link #history()}: a resource that arrived ({@code version} set) or was removed
   * ({@code version} null), with the response's sequence number per type and the arrival time. SotW responses
   * repeat the full state: only resources new or changed in content are recorded for them.
   */
  public record Delivery(String typeUrl, String name, String version, int response, long nanos) {
    public boolean removal() {
      return version == null;
    }
  }

  /** What a test returns from the rejecter to NACK a resource (null accepts it). */
  public interface Rejecter extends BiFunction<String, Any, String> {}

  /** Totals over many clients of one run (thread-safe adders). */
  public static final class Stats {
    public final LongAdder responses = new LongAdder();
    public final LongAdder bytes = new LongAdder();
    public final LongAdder resources = new LongAdder();
    public final LongAccumulator largestResponse = new LongAccumulator(Math::max, 0);
    public final LongAdder decodeErrors = new LongAdder();
  }

  private record Waiter(Predicate<SimulatedEnvoy> condition, CompletableFuture<Long> done) {}

  private final Node node;
  private final String nodeName;
  private final boolean delta;
  private final boolean keepContent;
  private final boolean decodeAll;
  private final Rejecter rejecter;
  private final Stats stats;
  private final Channel channel;
  /** Where a lost stream is reopened after a backoff, as Envoy does; null: a lost stream stays lost. */
  private final ScheduledExecutorService reconnector;
  private final Map<String, Map<String, Received>> held = new HashMap<>();
  private final Map<String, Set<String>> subscribed = new HashMap<>();
  private final Map<String, String> edsOfCluster = new HashMap<>();
  private final Map<String, Set<String>> routesOfListener = new HashMap<>();
  private final Map<String, String> sotwVersions = new HashMap<>();
  private final Map<String, String> sotwNonces = new HashMap<>();
  private final Map<String, Integer> responses = new HashMap<>();
  private final Map<String, String> lastNack = new HashMap<>();
  private final Map<String, Map<String, Long>> removedNanos = new HashMap<>();
  private final List<Delivery> history;
  private final List<Waiter> waiters = new ArrayList<>();
  private StreamObserver<DeltaDiscoveryRequest> deltaRequests;
  private StreamObserver<DiscoveryRequest> sotwRequests;
  /** Which stream is current: responses and errors of an older one are ignored. */
  private int streamGeneration;
  private boolean sentNode;
  private long backoffMillis = MIN_BACKOFF_MILLIS;
  private boolean closed;
  /** The current stream has delivered a response. */
  private boolean answered;
  private int reconnects;
  private volatile Throwable error;
  private volatile boolean completed;

  private SimulatedEnvoy(Builder builder) {
    this.node = Node.newBuilder().setId(builder.podName).setCluster(builder.cluster)
        .setMetadata(Struct.newBuilder()
            .putFields("node_name", Value.newBuilder().setStringValue(builder.nodeName).build()))
        .build();
    this.nodeName = builder.nodeName;
    this.delta = builder.delta;
    this.keepContent = builder.keepContent;
    this.decodeAll = builder.decodeAll;
    this.rejecter = builder.rejecter;
    this.stats = builder.stats;
    this.channel = builder.channel;
    this.reconnector = builder.reconnector;
    this.history = builder.recordHistory ? new ArrayList<>() : null;
    for (String type : TYPES) {
      held.put(type, new HashMap<>());
      subscribed.put(type, new HashSet<>());
    }
    synchronized (this) {
      if (builder.resumeFrom != null) {
        // like Envoy after losing its control plane: it keeps serving what it has and tells the new stream
        builder.resumeFrom.copyStateTo(this);
      }
      openStream(builder.initialVersions);
    }
  }

  /** A client of {@code podName} (node.id) serving {@code nodeName}: delta, keeping content, accepting everything. */
  public static Builder builder(Channel channel, String podName, String nodeName) {
    return new Builder(channel, podName, nodeName);
  }

  /** Builds and connects a {@link SimulatedEnvoy}. */
  public static final class Builder {
    private final Channel channel;
    private final String podName;
    private final String nodeName;
    private String cluster = "nodemesh-envoy";
    private boolean delta = true;
    private boolean keepContent = true;
    private boolean decodeAll = true;
    private boolean recordHistory;
    private Map<String, Map<String, String>> initialVersions = Map.of();
    private Rejecter rejecter = (type, any) -> null;
    private SimulatedEnvoy resumeFrom;
    private Stats stats = new Stats();
    private ScheduledExecutorService reconnector;

    private Builder(Channel channel, String podName, String nodeName) {
      this.channel = channel;
      this.podName = podName;
      this.nodeName = nodeName;
    }

    public Builder sotw() {
      this.delta = false;
      return this;
    }

    /** node.cluster (the chart's Envoys say nodemesh-envoy). */
    public Builder cluster(String cluster) {
      this.cluster = cluster;
      return this;
    }

    /**
     * For many clients in one JVM: keep per resource only its version, size and arrival time, not its content;
     * {@code decodeAll} still parses every resource as Envoy does (its CPU cost), else only clusters and
     * listeners, whose references the client follows.
     */
    public Builder lean(boolean decodeAll) {
      this.keepContent = false;
      this.decodeAll = decodeAll;
      return this;
    }

    /** Record every accepted delivery ({@link #history()}). */
    public Builder recordHistory() {
      this.recordHistory = true;
      return this;
    }

    /** Delta only: versions to announce for CDS and LDS, without holding the resources themselves. */
    public Builder initialVersions(Map<String, Map<String, String>> versions) {
      this.initialVersions = versions;
      return this;
    }

    public Builder rejecter(Rejecter rejecter) {
      this.rejecter = rejecter;
      return this;
    }

    /**
     * Delta only: start from everything {@code previous} holds and subscribes to (as the same Envoy whose control
     * plane went away), announcing it as initial_resource_versions for every type.
     */
    public Builder resumeFrom(SimulatedEnvoy previous) {
      this.resumeFrom = previous;
      return this;
    }

    /** Count responses, bytes and resources into {@code stats} (shared by the clients of one run). */
    public Builder stats(Stats stats) {
      this.stats = stats;
      return this;
    }

    /** Reopen a lost stream after a jittered backoff on {@code reconnector}, as Envoy does. */
    public Builder reconnectWith(ScheduledExecutorService reconnector) {
      this.reconnector = reconnector;
      return this;
    }

    public SimulatedEnvoy connect() {
      if ((resumeFrom != null || !initialVersions.isEmpty()) && !delta) {
        throw new IllegalArgumentException("announcing initial_resource_versions is delta only");
      }
      if (!keepContent && recordHistory) {
        throw new IllegalArgumentException("a lean client records no history");
      }
      return new SimulatedEnvoy(this);
    }
  }

  /** Connects a delta stream that accepts everything. */
  public static SimulatedEnvoy delta(Channel channel, String podName, String nodeName) {
    return builder(channel, podName, nodeName).connect();
  }

  /** Connects a SotW stream that accepts everything. */
  public static SimulatedEnvoy sotw(Channel channel, String podName, String nodeName) {
    return builder(channel, podName, nodeName).sotw().connect();
  }

  /** A plaintext channel to a control plane on this machine, for many clients' streams (large responses allowed). */
  public static ManagedChannel channel(int port, Executor executor) {
    return channel(port, executor, null);
  }

  /**
   * As {@link #channel(int, Executor)}, connecting from {@code localIp} (a 127.x address: the control plane tells
   * clients apart by their address), or from the default address when null.
   */
  public static ManagedChannel channel(int port, Executor executor, String localIp) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(256 * 1024 * 1024).executor(executor);
    if (localIp != null) {
      builder.localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
        @Override
        public SocketAddress createSocketAddress(SocketAddress remote, Attributes attrs) {
          return new InetSocketAddress(localIp, 0);
        }
      });
    }
    return builder.build();
  }

  // ---- what tests read

  /** Names and what is held of them, of one type. */
  public synchronized ImmutableMap<String, Received> resources(String typeUrl) {
    return ImmutableMap.copyOf(held.get(typeUrl));
  }

  /** name -> version per type, as a reconnecting delta client announces it. */
  public synchronized Map<String, Map<String, String>> versions() {
    Map<String, Map<String, String>> versions = new TreeMap<>();
    held.forEach((type, byName) -> {
      Map<String, String> names = new TreeMap<>();
      byName.forEach((name, received) -> names.put(name, received.version()));
      versions.put(type, names);
    });
    return versions;
  }

  public synchronized ImmutableSet<String> names(String typeUrl) {
    return ImmutableSet.copyOf(held.get(typeUrl).keySet());
  }

  /** The names held of a type, as a live view: read it only under the client's lock (inside {@link #when}). */
  public Set<String> namesView(String typeUrl) {
    return Collections.unmodifiableSet(held.get(typeUrl).keySet());
  }

  public synchronized boolean holds(String typeUrl, String name) {
    return held.get(typeUrl).containsKey(name);
  }

  /** The version held of a resource, null when it is not held. */
  public synchronized String version(String typeUrl, String name) {
    Received received = held.get(typeUrl).get(name);
    return received == null ? null : received.version();
  }

  /** The EDS and RDS names the client subscribes to because of what it holds. */
  public synchronized ImmutableSet<String> subscribed(String typeUrl) {
    return ImmutableSet.copyOf(subscribed.get(typeUrl));
  }

  /** Every subscribed EDS/RDS name is held (the references of held clusters and listeners are resolved). */
  public synchronized boolean referencesResolved() {
    for (String type : List.of(EDS, RDS)) {
      if (!held.get(type).keySet().containsAll(subscribed.get(type))) {
        return false;
      }
    }
    return true;
  }

  /** Per type in {@link #TYPES} order: resources held, then their bytes ({@code [count x4, bytes x4]}). */
  public synchronized long[] countsAndBytes() {
    long[] result = new long[TYPES.size() * 2];
    for (int i = 0; i < TYPES.size(); i++) {
      Map<String, Received> names = held.get(TYPES.get(i));
      result[i] = names.size();
      long bytes = 0;
      for (Received received : names.values()) {
        bytes += received.bytes();
      }
      result[TYPES.size() + i] = bytes;
    }
    return result;
  }

  /** Responses received for a type (each one ACKed or NACKed). */
  public synchronized int responses(String typeUrl) {
    return responses.getOrDefault(typeUrl, 0);
  }

  /** When a resource was last removed ({@link System#nanoTime()}), if it was and has not come back since. */
  public synchronized Optional<Long> removedAt(String typeUrl, String name) {
    return Optional.ofNullable(removedNanos.getOrDefault(typeUrl, Map.of()).get(name));
  }

  /** Every accepted delivery in order (only for clients built with {@link Builder#recordHistory()}). */
  public synchronized List<Delivery> history() {
    if (history == null) {
      throw new IllegalStateException("history not recorded: build with recordHistory()");
    }
    return List.copyOf(history);
  }

  public synchronized String lastNack(String typeUrl) {
    return lastNack.get(typeUrl);
  }

  /**
   * A held resource, decoded (not for {@link Builder#lean} clients). Throws {@link AssertionError} when it is not
   * held, so that awaitility's {@code untilAsserted} keeps waiting for it.
   */
  public <T extends Message> T unpack(String typeUrl, String name, Class<T> type) {
    if (!keepContent) {
      throw new IllegalStateException("a lean client keeps no content");
    }
    Received received = resources(typeUrl).get(name);
    if (received == null) {
      throw new AssertionError(name + " not received");
    }
    try {
      return received.resource().unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Completes once {@code condition} holds: at once if it holds now (with the current time), else with the time
   * the ACK of the response that made it true was sent. The condition runs under the client's lock.
   */
  public synchronized CompletableFuture<Long> when(Predicate<SimulatedEnvoy> condition) {
    CompletableFuture<Long> done = new CompletableFuture<>();
    if (condition.test(this)) {
      done.complete(System.nanoTime());
    } else {
      waiters.add(new Waiter(condition, done));
    }
    return done;
  }

  /** Drops waiters that are no longer awaited (a deadline passed). */
  public synchronized void forgetWaiters() {
    waiters.clear();
  }

  /** Non-null once the current stream failed. */
  public Throwable error() {
    return error;
  }

  public boolean completed() {
    return completed;
  }

  public String nodeId() {
    return node.getId();
  }

  public String nodeName() {
    return nodeName;
  }

  /** How often the stream was reopened after a loss. */
  public synchronized int reconnects() {
    return reconnects;
  }

  /** Whether the current stream has delivered a response and not failed since. */
  public synchronized boolean streaming() {
    return answered && error == null && !completed;
  }

  // ---- protocol

  private void openStream(Map<String, Map<String, String>> initialVersions) {
    int generation = ++streamGeneration;
    answered = false;
    sentNode = false;
    AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub =
        AggregatedDiscoveryServiceGrpc.newStub(channel);
    if (delta) {
      deltaRequests = stub.deltaAggregatedResources(new Observer<>(generation, this::onDelta));
      // Envoy's order: CDS, EDS, LDS, RDS, each announcing what it holds (initial_resource_versions)
      for (String type : TYPES) {
        boolean wildcard = type.equals(CDS) || type.equals(LDS);
        if (!wildcard && subscribed.get(type).isEmpty()) {
          continue;
        }
        DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type);
        if (!wildcard) {
          request.addAllResourceNamesSubscribe(subscribed.get(type));
        }
        held.get(type).forEach((name, received) -> request.putInitialResourceVersions(name, received.version()));
        request.putAllInitialResourceVersions(initialVersions.getOrDefault(type, Map.of()));
        sendDelta(request);
      }
    } else {
      sotwRequests = stub.streamAggregatedResources(new Observer<>(generation, this::onSotw));
      sotwNonces.clear(); // nonces belong to the old stream; the last version_info is what the client holds
      for (String type : TYPES) {
        if (type.equals(CDS) || type.equals(LDS) || !subscribed.get(type).isEmpty()) {
          sendSotw(sotwRequest(type));
        }
      }
    }
  }

  private synchronized void copyStateTo(SimulatedEnvoy next) {
    held.forEach((type, byName) -> next.held.get(type).putAll(byName));
    subscribed.forEach((type, names) -> next.subscribed.get(type).addAll(names));
    next.edsOfCluster.putAll(edsOfCluster);
    routesOfListener.forEach((listener, routes) -> next.routesOfListener.put(listener, new HashSet<>(routes)));
  }

  /** Called with the lock held when the current stream fails. */
  private void streamLost() {
    if (reconnector == null || closed) {
      return;
    }
    long delay = ThreadLocalRandom.current().nextLong(backoffMillis / 2, backoffMillis + 1);
    backoffMillis = Math.min(MAX_BACKOFF_MILLIS, backoffMillis * 2);
    reconnector.schedule(() -> {
      synchronized (this) {
        if (closed) {
          return;
        }
        reconnects++;
        if (channel instanceof ManagedChannel managed) {
          managed.resetConnectBackoff(); // our backoff decides when to retry, as Envoy's does
        }
        openStream(Map.of());
      }
    }, delay, TimeUnit.MILLISECONDS);
  }

  private void onDelta(DeltaDiscoveryResponse response) {
    String type = response.getTypeUrl();
    int sequence = received(type, response.getSerializedSize(), response.getResourcesCount());
    String rejection = null;
    for (Resource resource : response.getResourcesList()) {
      rejection = rejecter.apply(type, resource.getResource());
      if (rejection != null) {
        break;
      }
    }
    if (rejection != null) {
      lastNack.put(type, rejection);
      sendDelta(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type).setResponseNonce(response.getNonce())
          .setErrorDetail(Status.newBuilder().setCode(3).setMessage(rejection)));
      return;
    }
    long now = System.nanoTime();
    Map<String, Received> names = held.get(type);
    for (Resource resource : response.getResourcesList()) {
      if (!wanted(type, resource.getName())) {
        continue;
      }
      Any any = resource.getResource();
      decode(type, resource.getName(), any);
      names.put(resource.getName(), new Received(resource.getVersion(), keepContent ? any : null,
          any.getSerializedSize(), now));
      arrived(type, resource.getName(), resource.getVersion(), sequence, now);
    }
    for (String name : response.getRemovedResourcesList()) {
      if (names.remove(name) != null) {
        removed(type, name, sequence, now);
      }
    }
    sendDelta(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type).setResponseNonce(response.getNonce()));
    acked(type);
  }

  private void onSotw(DiscoveryResponse response) {
    String type = response.getTypeUrl();
    int sequence = received(type, response.getSerializedSize(), response.getResourcesCount());
    sotwNonces.put(type, response.getNonce());
    String rejection = null;
    for (Any any : response.getResourcesList()) {
      rejection = rejecter.apply(type, any);
      if (rejection != null) {
        break;
      }
    }
    if (rejection != null) {
      lastNack.put(type, rejection);
      sendSotw(sotwRequest(type).setErrorDetail(Status.newBuilder().setCode(3).setMessage(rejection)));
      return;
    }
    long now = System.nanoTime();
    Map<String, Received> names = held.get(type);
    // SotW LDS and CDS carry the full state: what a response lacks is gone
    Set<String> present = type.equals(CDS) || type.equals(LDS) ? new HashSet<>() : null;
    for (Any any : response.getResourcesList()) {
      String name = decode(type, null, any);
      if (name == null || !wanted(type, name)) {
        continue;
      }
      if (present != null) {
        present.add(name);
      }
      // SotW has no per-resource version: the content decides whether this resource changed
      String key = contentKey(any.getValue());
      Received before = names.get(name);
      if (before == null || !before.version().equals(key)) {
        names.put(name, new Received(key, keepContent ? any : null, any.getSerializedSize(), now));
        arrived(type, name, response.getVersionInfo(), sequence, now);
      }
    }
    if (present != null) {
      for (Iterator<String> it = names.keySet().iterator(); it.hasNext(); ) {
        String name = it.next();
        if (!present.contains(name)) {
          it.remove();
          removed(type, name, sequence, now);
        }
      }
    }
    sotwVersions.put(type, response.getVersionInfo());
    sendSotw(sotwRequest(type));
    acked(type);
  }

  /** A key of a resource's content (hash and size), as SotW gives no version per resource. */
  private static String contentKey(ByteString content) {
    return Integer.toHexString(content.hashCode()) + ":" + content.size();
  }

  /** A response arrived on the current stream: it is healthy again; counted; returns its sequence per type. */
  private int received(String type, int bytes, int resources) {
    answered = true;
    error = null;
    backoffMillis = MIN_BACKOFF_MILLIS;
    stats.responses.increment();
    stats.bytes.add(bytes);
    stats.resources.add(resources);
    stats.largestResponse.accumulate(bytes);
    return responses.merge(type, 1, Integer::sum);
  }

  /** After an ACK: follow the references of clusters and listeners, then wake the waiters it satisfied. */
  private void acked(String type) {
    long acked = System.nanoTime();
    if (type.equals(CDS) || type.equals(LDS)) {
      // hash sets: a node's Envoy follows thousands of names, and this runs after every CDS and LDS response
      updateSubscription(EDS, new HashSet<>(edsOfCluster.values()));
      Set<String> routes = new HashSet<>();
      routesOfListener.values().forEach(routes::addAll);
      updateSubscription(RDS, routes);
    }
    wake(acked);
  }

  /**
   * Whether a resource in a response is one this client asked for. Like Envoy, it ignores an EDS or RDS resource
   * it no longer subscribes to: a response sent before the server saw the unsubscribe may still carry it.
   */
  private boolean wanted(String type, String name) {
    return type.equals(CDS) || type.equals(LDS) || subscribed.get(type).contains(name);
  }

  /** Decodes a resource as Envoy would, records its references, and returns its name. */
  private String decode(String type, String name, Any any) {
    try {
      switch (type) {
        case CDS -> {
          // parseFrom, not Any.unpack: unpack finds the default instance by reflection on every call
          Cluster cluster = Cluster.parseFrom(any.getValue());
          References.endpointsOf(cluster).ifPresentOrElse(eds -> edsOfCluster.put(cluster.getName(), eds),
              () -> edsOfCluster.remove(cluster.getName()));
          return cluster.getName();
        }
        case LDS -> {
          Listener listener = Listener.parseFrom(any.getValue());
          Set<String> routes = new HashSet<>();
          References.routesOf(listener, routes);
          if (routes.isEmpty()) {
            routesOfListener.remove(listener.getName());
          } else {
            routesOfListener.put(listener.getName(), routes);
          }
          return listener.getName();
        }
        case EDS -> {
          return decodeAll || name == null ? ClusterLoadAssignment.parseFrom(any.getValue()).getClusterName() : name;
        }
        case RDS -> {
          return decodeAll || name == null ? RouteConfiguration.parseFrom(any.getValue()).getName() : name;
        }
        default -> {
          return name;
        }
      }
    } catch (InvalidProtocolBufferException e) {
      stats.decodeErrors.increment();
      return name;
    }
  }

  private void forgetReferences(String type, String name) {
    if (type.equals(CDS)) {
      edsOfCluster.remove(name);
    } else if (type.equals(LDS)) {
      routesOfListener.remove(name);
    }
  }

  private void arrived(String type, String name, String version, int sequence, long now) {
    Map<String, Long> removals = removedNanos.get(type);
    if (removals != null) {
      removals.remove(name);
    }
    if (history != null) {
      history.add(new Delivery(type, name, version, sequence, now));
    }
  }

  private void removed(String type, String name, int sequence, long now) {
    forgetReferences(type, name);
    removedNanos.computeIfAbsent(type, t -> new HashMap<>()).put(name, now);
    if (history != null) {
      history.add(new Delivery(type, name, null, sequence, now));
    }
  }

  private void updateSubscription(String type, Set<String> wanted) {
    Set<String> current = subscribed.get(type);
    if (current.equals(wanted)) {
      return;
    }
    // only the differences are sorted (stable requests for tests); the sets themselves are large
    Set<String> added = new TreeSet<>();
    wanted.forEach(name -> {
      if (!current.contains(name)) {
        added.add(name);
      }
    });
    Set<String> removed = new TreeSet<>();
    current.forEach(name -> {
      if (!wanted.contains(name)) {
        removed.add(name);
      }
    });
    subscribed.put(type, wanted);
    if (delta) {
      sendDelta(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type)
          .addAllResourceNamesSubscribe(added).addAllResourceNamesUnsubscribe(removed));
    } else {
      sendSotw(sotwRequest(type));
    }
    Map<String, Received> names = held.get(type);
    long now = System.nanoTime();
    for (String name : removed) {
      if (names.remove(name) != null) {
        removed(type, name, responses.getOrDefault(type, 0), now);
      }
    }
  }

  private DiscoveryRequest.Builder sotwRequest(String type) {
    return DiscoveryRequest.newBuilder().setTypeUrl(type)
        .setVersionInfo(sotwVersions.getOrDefault(type, ""))
        .setResponseNonce(sotwNonces.getOrDefault(type, ""))
        .addAllResourceNames(subscribed.get(type));
  }

  private void sendDelta(DeltaDiscoveryRequest.Builder request) {
    if (!sentNode) {
      request.setNode(node);
      sentNode = true;
    }
    deltaRequests.onNext(request.build());
  }

  private void sendSotw(DiscoveryRequest.Builder request) {
    if (!sentNode) {
      request.setNode(node);
      sentNode = true;
    }
    sotwRequests.onNext(request.build());
  }

  private void wake(long nanos) {
    if (waiters.isEmpty()) {
      return;
    }
    for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
      Waiter waiter = it.next();
      if (waiter.done().isDone()) {
        it.remove();
      } else if (waiter.condition().test(this)) {
        it.remove();
        waiter.done().complete(nanos);
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (!completed && error == null) {
      try {
        if (delta) {
          deltaRequests.onCompleted();
        } else {
          sotwRequests.onCompleted();
        }
      } catch (RuntimeException ignored) {
        // the stream is already gone
      }
    }
  }

  /** Hands the current stream's events to the client under its lock; an older stream's are ignored. */
  private final class Observer<T> implements StreamObserver<T> {
    private final int generation;
    private final Consumer<T> handler;

    Observer(int generation, Consumer<T> handler) {
      this.generation = generation;
      this.handler = handler;
    }

    @Override
    public void onNext(T value) {
      synchronized (SimulatedEnvoy.this) {
        if (generation != streamGeneration) {
          return;
        }
        try {
          handler.accept(value);
        } catch (RuntimeException | Error e) {
          // a harness bug must show up as the stream's error, not vanish in a gRPC thread
          error = e;
          throw e;
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      synchronized (SimulatedEnvoy.this) {
        if (generation == streamGeneration) {
          error = t;
          streamLost();
        }
      }
    }

    @Override
    public void onCompleted() {
      synchronized (SimulatedEnvoy.this) {
        if (generation == streamGeneration) {
          completed = true;
        }
      }
    }
  }
}
