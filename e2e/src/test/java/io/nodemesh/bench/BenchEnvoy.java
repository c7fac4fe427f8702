package io.nodemesh.bench;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A lean stand-in for one node's Envoy, built for thousands of instances in one JVM: one real ADS stream
 * (delta or SotW) with Envoy's node identity (node.id = Envoy pod name, metadata node_name), wildcard CDS and
 * LDS, EDS and RDS subscribed by name to what the held clusters and listeners reference. It decodes every
 * resource of every response (as Envoy must), ACKs at once, and keeps per resource only its version, size and
 * when it arrived. Tests wait for a condition with {@link #when}: the future completes with the
 * {@link System#nanoTime()} at which the ACK of the response that made the condition true was sent.
 *
 * <p>A {@link #reconnecting} client survives control plane restarts the way Envoy does (the soak's clients).
 *
 * <p>Unlike the e2e {@code SimulatedEnvoy}, it does not keep the resources and re-derives references only from
 * the resources of each response, so a response costs O(its size), not O(everything held).
 *
 * <p>Thread-safe: gRPC delivers a stream's responses one at a time; all state is guarded by {@code this}.
 */
final class BenchEnvoy implements AutoCloseable {

  static final String CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  static final String EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  static final String LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
  static final String RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
  static final List<String> TYPES = List.of(CDS, EDS, LDS, RDS);
  private static final String HCM_TYPE_URL =
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

  /** What the client holds of one resource. */
  record Held(String version, int bytes, long arrivedNanos) {}

  private record Waiter(Predicate<BenchEnvoy> condition, CompletableFuture<Long> done) {}

  /** Reconnect backoff, jittered: Envoy's base interval, capped low so a restart is not waited out for long. */
  private static final long MIN_BACKOFF_MILLIS = 250;
  private static final long MAX_BACKOFF_MILLIS = 4000;

  private final Node node;
  private final String nodeName;
  private final boolean delta;
  private final Map<String, Map<String, Held>> held = new HashMap<>();
  private final Map<String, String> edsOfCluster = new HashMap<>();
  private final Map<String, Set<String>> routesOfListener = new HashMap<>();
  private final Map<String, Set<String>> subscribed = new HashMap<>();
  private final Map<String, String> sotwVersion = new HashMap<>();
  private final Map<String, String> sotwNonce = new HashMap<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private final Channel channel;
  private final ClientStats stats;
  /** Parse every resource (as Envoy does) or only clusters and listeners, whose references the client follows. */
  private final boolean decodeAll;
  /** Where a lost stream is reopened after a backoff, as Envoy does; null: a lost stream stays lost. */
  private final ScheduledExecutorService reconnector;
  private StreamObserver<DeltaDiscoveryRequest> deltaRequests;
  private StreamObserver<DiscoveryRequest> sotwRequests;
  /** Which stream is current: responses and errors of an older one are ignored. */
  private int streamGeneration;
  private long backoffMillis = MIN_BACKOFF_MILLIS;
  private boolean closed;
  /** The current stream has delivered a response. */
  private boolean answered;
  private int reconnects;
  private volatile Throwable error;
  private volatile boolean completed;

  /** Per-client totals shared by all envoys of one run (thread-safe adders). */
  static final class ClientStats {
    final java.util.concurrent.atomic.LongAdder responses = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAdder bytes = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAdder resources = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAccumulator largestResponse =
        new java.util.concurrent.atomic.LongAccumulator(Math::max, 0);
    final java.util.concurrent.atomic.LongAdder decodeErrors = new java.util.concurrent.atomic.LongAdder();
  }

  private BenchEnvoy(Channel channel, String podName, String nodeName, boolean delta, boolean decodeAll,
      ClientStats stats, ScheduledExecutorService reconnector) {
    this.node = Node.newBuilder().setId(podName).setCluster("nodemesh-envoy")
        .setMetadata(Struct.newBuilder().putFields("node_name", Value.newBuilder().setStringValue(nodeName).build()))
        .build();
    this.nodeName = nodeName;
    this.delta = delta;
    this.stats = stats;
    this.decodeAll = decodeAll;
    for (String type : TYPES) {
      held.put(type, new HashMap<>());
      subscribed.put(type, new HashSet<>());
    }
    this.channel = channel;
    this.reconnector = reconnector;
    openStream();
  }

  /** A plaintext channel to a control plane on this machine, for many clients' streams (large responses allowed). */
  static ManagedChannel channel(int port, java.util.concurrent.Executor executor) {
    return channel(port, executor, null);
  }

  /**
   * As {@link #channel(int, java.util.concurrent.Executor)}, connecting from {@code localIp} (a 127.x address:
   * the control plane tells clients apart by their address), or from the default address when null.
   */
  static ManagedChannel channel(int port, java.util.concurrent.Executor executor, String localIp) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(256 * 1024 * 1024).executor(executor);
    if (localIp != null) {
      builder.localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
        @Override
        public java.net.SocketAddress createSocketAddress(java.net.SocketAddress remote, io.grpc.Attributes attrs) {
          return new java.net.InetSocketAddress(localIp, 0);
        }
      });
    }
    return builder.build();
  }

  /** A client whose stream, once lost, stays lost (the benchmark counts that as an error). */
  static BenchEnvoy connect(Channel channel, String podName, String nodeName, boolean delta, boolean decodeAll,
      ClientStats stats) {
    return new BenchEnvoy(channel, podName, nodeName, delta, decodeAll, stats, null);
  }

  /**
   * A client that, like Envoy, keeps what it holds when its stream is lost and reopens the stream after a
   * jittered backoff: delta with {@code initial_resource_versions} of everything held, SotW with the last
   * version_info per type and the names it subscribes to.
   */
  static BenchEnvoy reconnecting(Channel channel, String podName, String nodeName, boolean delta, ClientStats stats,
      ScheduledExecutorService reconnector) {
    return new BenchEnvoy(channel, podName, nodeName, delta, true, stats, reconnector);
  }

  private synchronized void openStream() {
    int generation = ++streamGeneration;
    answered = false;
    AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub = AggregatedDiscoveryServiceGrpc.newStub(channel);
    if (delta) {
      deltaRequests = stub.deltaAggregatedResources(new Observer<>(generation, this::onDelta));
      for (String type : TYPES) {
        boolean wildcard = type.equals(CDS) || type.equals(LDS);
        if (!wildcard && subscribed.get(type).isEmpty()) {
          continue;
        }
        DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type);
        if (!wildcard) {
          request.addAllResourceNamesSubscribe(subscribed.get(type));
        }
        held.get(type).forEach((name, h) -> request.putInitialResourceVersions(name, h.version()));
        deltaRequests.onNext(request.build());
      }
    } else {
      sotwRequests = stub.streamAggregatedResources(new Observer<>(generation, this::onSotw));
      sotwNonce.clear(); // nonces belong to the old stream; the last version_info is what the client holds
      for (String type : TYPES) {
        if ((type.equals(CDS) || type.equals(LDS)) || !subscribed.get(type).isEmpty()) {
          sotwRequests.onNext(sotwRequest(type).build());
        }
      }
    }
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
        openStream();
      }
    }, delay, TimeUnit.MILLISECONDS);
  }

  /** How often the stream was reopened after a loss. */
  synchronized int reconnects() {
    return reconnects;
  }

  /** Whether the current stream has delivered a response and not failed since. */
  synchronized boolean streaming() {
    return answered && error == null && !completed;
  }

  /** What the client holds now: per type, resource name to version (SotW: the client's own content hash). */
  synchronized Map<String, Map<String, String>> versions() {
    Map<String, Map<String, String>> all = new TreeMap<>();
    for (String type : TYPES) {
      Map<String, String> names = new TreeMap<>();
      held.get(type).forEach((name, h) -> names.put(name, h.version()));
      all.put(type, names);
    }
    return all;
  }

  String nodeName() {
    return nodeName;
  }

  Throwable error() {
    return error;
  }

  boolean completed() {
    return completed;
  }

  // ---- conditions (call with the lock held: they run inside when()/after each response)

  boolean has(String type, String name) {
    return held.get(type).containsKey(name);
  }

  String version(String type, String name) {
    Held h = held.get(type).get(name);
    return h == null ? null : h.version();
  }

  /** Every subscribed EDS/RDS name is held (the references of held clusters and listeners are resolved). */
  boolean referencesResolved() {
    for (String type : List.of(EDS, RDS)) {
      Map<String, Held> names = held.get(type);
      for (String name : subscribed.get(type)) {
        if (!names.containsKey(name)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Holds exactly these listeners, at least these clusters, and every referenced EDS/RDS resource. */
  boolean synced(Set<String> listeners, Set<String> clusters) {
    Map<String, Held> heldListeners = held.get(LDS);
    Map<String, Held> heldClusters = held.get(CDS);
    if (heldListeners.size() != listeners.size() || heldClusters.size() < clusters.size()) {
      return false; // cheap pre-check: this runs after every response while a node syncs
    }
    return heldListeners.keySet().equals(listeners)
        && held.get(CDS).keySet().containsAll(clusters)
        && referencesResolved();
  }

  /**
   * Holds exactly these listeners, exactly these service-layer ({@code svc/...}, {@code dst/...}) clusters, and every referenced EDS/RDS
   * resource. Other clusters (passthrough) are not named by the expectation.
   */
  boolean holdsExactly(Set<String> listeners, Set<String> serviceClusters) {
    if (!held.get(LDS).keySet().equals(listeners) || !referencesResolved()) {
      return false;
    }
    return serviceClustersHeld().equals(serviceClusters);
  }

  private Set<String> serviceClustersHeld() {
    Set<String> clusters = new TreeSet<>();
    for (String name : held.get(CDS).keySet()) {
      if (name.startsWith("svc/") || name.startsWith("dst/")) {
        clusters.add(name);
      }
    }
    return clusters;
  }

  /** What differs from {@link #holdsExactly}'s expectation, for a report. */
  synchronized String differenceFrom(Set<String> listeners, Set<String> serviceClusters) {
    List<String> parts = new ArrayList<>();
    describeDifference("listeners", held.get(LDS).keySet(), listeners, parts);
    describeDifference("service clusters", serviceClustersHeld(), serviceClusters, parts);
    for (String type : List.of(EDS, RDS)) {
      Set<String> unresolved = new TreeSet<>(subscribed.get(type));
      unresolved.removeAll(held.get(type).keySet());
      if (!unresolved.isEmpty()) {
        parts.add("unresolved " + type.substring(type.lastIndexOf('.') + 1) + " " + unresolved);
      }
    }
    parts.add(streaming() ? "streaming" : "not streaming (" + error + ")");
    return String.join("; ", parts);
  }

  private static void describeDifference(String what, Set<String> held, Set<String> expected, List<String> parts) {
    Set<String> missing = new TreeSet<>(expected);
    missing.removeAll(held);
    Set<String> extra = new TreeSet<>(held);
    extra.removeAll(expected);
    if (!missing.isEmpty()) {
      parts.add("missing " + what + " " + missing);
    }
    if (!extra.isEmpty()) {
      parts.add("extra " + what + " " + extra);
    }
  }

  /** A snapshot of counts and bytes per type. */
  synchronized long[] countsAndBytes() {
    long[] result = new long[TYPES.size() * 2];
    for (int i = 0; i < TYPES.size(); i++) {
      Map<String, Held> names = held.get(TYPES.get(i));
      result[i] = names.size();
      long bytes = 0;
      for (Held h : names.values()) {
        bytes += h.bytes();
      }
      result[TYPES.size() + i] = bytes;
    }
    return result;
  }

  /** The current version of a resource (null if not held). */
  synchronized String versionNow(String type, String name) {
    return version(type, name);
  }

  /**
   * Completes once {@code condition} holds: at once if it holds now (with the current time), else with the
   * time the ACK of the response that made it true was sent.
   */
  synchronized CompletableFuture<Long> when(Predicate<BenchEnvoy> condition) {
    CompletableFuture<Long> done = new CompletableFuture<>();
    if (condition.test(this)) {
      done.complete(System.nanoTime());
    } else {
      waiters.add(new Waiter(condition, done));
    }
    return done;
  }

  /** Drops waiters that are no longer awaited (a deadline passed). */
  synchronized void forgetWaiters() {
    waiters.clear();
  }

  // ---- protocol

  private synchronized void onDelta(DeltaDiscoveryResponse response) {
    long arrived = System.nanoTime();
    String type = response.getTypeUrl();
    Map<String, Held> names = received(type, response.getSerializedSize(), response.getResourcesCount());
    for (Resource resource : response.getResourcesList()) {
      if (!wanted(type, resource.getName())) {
        continue;
      }
      Any any = resource.getResource();
      decode(type, resource.getName(), any);
      names.put(resource.getName(), new Held(resource.getVersion(), any.getSerializedSize(), arrived));
    }
    for (String removed : response.getRemovedResourcesList()) {
      names.remove(removed);
      forgetReferences(type, removed);
    }
    deltaRequests.onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type)
        .setResponseNonce(response.getNonce()).build());
    long acked = System.nanoTime();
    if (type.equals(CDS) || type.equals(LDS)) {
      updateSubscriptions();
    }
    wake(acked);
  }

  private synchronized void onSotw(DiscoveryResponse response) {
    long arrived = System.nanoTime();
    String type = response.getTypeUrl();
    Map<String, Held> names = received(type, response.getSerializedSize(), response.getResourcesCount());
    boolean fullState = type.equals(LDS) || type.equals(CDS);
    Set<String> present = fullState ? new HashSet<>() : null;
    for (Any any : response.getResourcesList()) {
      String name = decode(type, null, any);
      if (name == null || !wanted(type, name)) {
        continue;
      }
      // SotW has no per-resource version: the content decides whether this resource changed
      String version = Integer.toHexString(any.getValue().hashCode()) + ":" + any.getValue().size();
      Held before = names.get(name);
      if (before == null || !before.version().equals(version)) {
        names.put(name, new Held(version, any.getSerializedSize(), arrived));
      }
      if (present != null) {
        present.add(name);
      }
    }
    if (present != null) {
      for (Iterator<String> it = names.keySet().iterator(); it.hasNext(); ) {
        String name = it.next();
        if (!present.contains(name)) {
          it.remove();
          forgetReferences(type, name);
        }
      }
    }
    sotwVersion.put(type, response.getVersionInfo());
    sotwNonce.put(type, response.getNonce());
    sotwRequests.onNext(sotwRequest(type).build());
    long acked = System.nanoTime();
    if (type.equals(CDS) || type.equals(LDS)) {
      updateSubscriptions();
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

  /** A response arrived on the current stream: it is healthy again; counted; returns what is held of its type. */
  private Map<String, Held> received(String type, int bytes, int resources) {
    answered = true;
    error = null;
    backoffMillis = MIN_BACKOFF_MILLIS;
    stats.responses.increment();
    stats.bytes.add(bytes);
    stats.resources.add(resources);
    stats.largestResponse.accumulate(bytes);
    return held.get(type);
  }

  /** Decodes a resource as Envoy would, records its references, and returns its name. */
  private String decode(String type, String name, Any any) {
    try {
      switch (type) {
        case CDS -> {
          // parseFrom, not Any.unpack: unpack finds the default instance by reflection on every call
          Cluster cluster = Cluster.parseFrom(any.getValue());
          if (cluster.getType() == Cluster.DiscoveryType.EDS) {
            String service = cluster.getEdsClusterConfig().getServiceName();
            edsOfCluster.put(cluster.getName(), service.isEmpty() ? cluster.getName() : service);
          } else {
            edsOfCluster.remove(cluster.getName());
          }
          return cluster.getName();
        }
        case LDS -> {
          Listener listener = Listener.parseFrom(any.getValue());
          Set<String> routes = new HashSet<>();
          for (FilterChain chain : listener.getFilterChainsList()) {
            collectRoutes(chain, routes);
          }
          collectRoutes(listener.getDefaultFilterChain(), routes);
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

  private static void collectRoutes(FilterChain chain, Set<String> routes) throws InvalidProtocolBufferException {
    for (Filter filter : chain.getFiltersList()) {
      if (filter.getTypedConfig().getTypeUrl().equals(HCM_TYPE_URL)) {
        HttpConnectionManager hcm = HttpConnectionManager.parseFrom(filter.getTypedConfig().getValue());
        if (hcm.hasRds()) {
          routes.add(hcm.getRds().getRouteConfigName());
        }
      }
    }
  }

  private void forgetReferences(String type, String name) {
    if (type.equals(CDS)) {
      edsOfCluster.remove(name);
    } else if (type.equals(LDS)) {
      routesOfListener.remove(name);
    }
  }

  /** Like Envoy: EDS for the held EDS clusters, RDS for the route configs the held listeners use. */
  private void updateSubscriptions() {
    Set<String> endpoints = new HashSet<>(edsOfCluster.values());
    Set<String> routes = new HashSet<>();
    routesOfListener.values().forEach(routes::addAll);
    updateSubscription(EDS, endpoints);
    updateSubscription(RDS, routes);
  }

  private void updateSubscription(String type, Set<String> wanted) {
    Set<String> current = subscribed.get(type);
    if (current.equals(wanted)) {
      return;
    }
    List<String> added = new ArrayList<>();
    for (String name : wanted) {
      if (!current.contains(name)) {
        added.add(name);
      }
    }
    List<String> removed = new ArrayList<>();
    for (String name : current) {
      if (!wanted.contains(name)) {
        removed.add(name);
      }
    }
    subscribed.put(type, wanted);
    Map<String, Held> names = held.get(type);
    removed.forEach(names::remove);
    if (delta) {
      deltaRequests.onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type)
          .addAllResourceNamesSubscribe(added).addAllResourceNamesUnsubscribe(removed).build());
    } else {
      sotwRequests.onNext(sotwRequest(type).build());
    }
  }

  private DiscoveryRequest.Builder sotwRequest(String type) {
    return DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type)
        .setVersionInfo(sotwVersion.getOrDefault(type, ""))
        .setResponseNonce(sotwNonce.getOrDefault(type, ""))
        .addAllResourceNames(subscribed.get(type));
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

  private final class Observer<T> implements StreamObserver<T> {
    private final int generation;
    private final java.util.function.Consumer<T> handler;

    Observer(int generation, java.util.function.Consumer<T> handler) {
      this.generation = generation;
      this.handler = handler;
    }

    @Override
    public void onNext(T value) {
      synchronized (BenchEnvoy.this) {
        if (generation == streamGeneration) {
          handler.accept(value);
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      synchronized (BenchEnvoy.this) {
        if (generation == streamGeneration) {
          error = t;
          streamLost();
        }
      }
    }

    @Override
    public void onCompleted() {
      synchronized (BenchEnvoy.this) {
        if (generation == streamGeneration) {
          completed = true;
        }
      }
    }
  }
}
