package io.nodemesh.e2e;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import io.nodemesh.testkit.References;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * A stand-in for a node's Envoy: one real ADS stream (Delta or SotW) over gRPC, with the node identity the
 * chart gives Envoy (node.id = Envoy pod name, metadata node_name = the Kubernetes node). Like Envoy it
 * subscribes wildcard CDS and LDS, then by name to the endpoints its clusters use and the route configs its
 * listeners use; it decodes and ACKs every response, or NACKs the ones a test rejects, and timestamps each
 * resource's arrival.
 *
 * <p>Thread-safe: responses arrive on a gRPC thread, tests read through synchronized getters.
 */
public final class SimulatedEnvoy implements AutoCloseable {

  /** Type URLs in make-before-break order. */
  public static final String CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  public static final String EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  public static final String LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
  public static final String RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

  /** One received resource: its version, content and when it arrived ({@link System#nanoTime()}). */
  public record Received(String version, Any resource, long arrivedNanos) {}

  /**
   * One accepted delivery in {@link #history()}: a resource that arrived ({@code version} set) or was removed
   * ({@code version} null), with the response's sequence number per type and the arrival time. SotW
   * responses repeat the full state: only resources new or changed in content are recorded for them.
   */
  public record Delivery(String typeUrl, String name, String version, int response, long nanos) {
    public boolean removal() {
      return version == null;
    }
  }

  /** What a test returns from the rejecter to NACK a resource (null accepts it). */
  public interface Rejecter extends BiFunction<String, Any, String> {}

  private final Node node;
  private final boolean delta;
  private final Rejecter rejecter;
  private final Map<String, Map<String, Received>> resources = new HashMap<>();
  private final Map<String, Set<String>> subscribed = new HashMap<>();
  private final Map<String, String> sotwVersions = new HashMap<>();
  private final Map<String, String> sotwNonces = new HashMap<>();
  private final Map<String, Integer> responses = new HashMap<>();
  private final Map<String, String> lastNack = new HashMap<>();
  private final Map<String, Map<String, Long>> removedNanos = new HashMap<>();
  private final List<Delivery> history;
  private final StreamObserver<DeltaDiscoveryRequest> deltaRequests;
  private final StreamObserver<DiscoveryRequest> sotwRequests;
  private volatile Throwable error;
  private volatile boolean completed;
  private boolean sentNode;

  private SimulatedEnvoy(Channel channel, String podName, String nodeName, boolean delta,
      Map<String, Map<String, String>> initialVersions, Rejecter rejecter) {
    this(channel, podName, nodeName, delta, initialVersions, rejecter, null, false);
  }

  private SimulatedEnvoy(Channel channel, String podName, String nodeName, boolean delta,
      Map<String, Map<String, String>> initialVersions, Rejecter rejecter, SimulatedEnvoy resumeFrom,
      boolean recordHistory) {
    this.node = Node.newBuilder().setId(podName).setCluster("nodemesh-envoy")
        .setMetadata(Struct.newBuilder().putFields("node_name", Value.newBuilder().setStringValue(nodeName).build()))
        .build();
    this.delta = delta;
    this.rejecter = rejecter;
    this.history = recordHistory ? new ArrayList<>() : null;
    AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub = AggregatedDiscoveryServiceGrpc.newStub(channel);
    synchronized (this) {
      if (resumeFrom != null) {
        // like Envoy after losing its control plane: it keeps serving what it has and tells the new stream
        resumeFrom.copyStateTo(this);
      }
      if (delta) {
        sotwRequests = null;
        deltaRequests = stub.deltaAggregatedResources(new Observer<>(this::onDelta));
        if (resumeFrom != null) {
          // Envoy's order: CDS, EDS, LDS, RDS, each announcing what it holds (initial_resource_versions)
          for (String type : List.of(CDS, EDS, LDS, RDS)) {
            Set<String> names = subscribed.getOrDefault(type, Set.of());
            if (!type.equals(CDS) && !type.equals(LDS) && names.isEmpty()) {
              continue;
            }
            DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type)
                .addAllResourceNamesSubscribe(names);
            resources.getOrDefault(type, Map.of())
                .forEach((name, received) -> request.putInitialResourceVersions(name, received.version()));
            sendDelta(request);
          }
        } else {
          for (String type : List.of(CDS, LDS)) {
            DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type);
            request.putAllInitialResourceVersions(initialVersions.getOrDefault(type, Map.of()));
            sendDelta(request);
          }
        }
      } else {
        deltaRequests = null;
        sotwRequests = stub.streamAggregatedResources(new Observer<>(this::onSotw));
        for (String type : List.of(CDS, LDS)) {
          sendSotw(DiscoveryRequest.newBuilder().setTypeUrl(type));
        }
      }
    }
  }

  private synchronized void copyStateTo(SimulatedEnvoy next) {
    resources.forEach((type, byName) -> next.resources.put(type, new HashMap<>(byName)));
    subscribed.forEach((type, names) -> next.subscribed.put(type, new TreeSet<>(names)));
  }

  /**
   * Options beyond the plain factories: SotW, a rejecter, resuming another client's state (a reconnect), and
   * recording every delivered resource ({@link #history()}; off by default to keep big runs lean).
   */
  public static Builder builder(Channel channel, String podName, String nodeName) {
    return new Builder(channel, podName, nodeName);
  }

  /** Builds and connects a {@link SimulatedEnvoy}. */
  public static final class Builder {
    private final Channel channel;
    private final String podName;
    private final String nodeName;
    private boolean delta = true;
    private Map<String, Map<String, String>> initialVersions = Map.of();
    private Rejecter rejecter = (type, any) -> null;
    private SimulatedEnvoy resumeFrom;
    private boolean recordHistory;

    private Builder(Channel channel, String podName, String nodeName) {
      this.channel = channel;
      this.podName = podName;
      this.nodeName = nodeName;
    }

    public Builder sotw() {
      this.delta = false;
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
     * Delta only: start from everything {@code previous} holds and subscribes to (as the same Envoy whose
     * control plane went away), announcing it as initial_resource_versions for every type.
     */
    public Builder resumeFrom(SimulatedEnvoy previous) {
      this.resumeFrom = previous;
      return this;
    }

    public Builder recordHistory() {
      this.recordHistory = true;
      return this;
    }

    public SimulatedEnvoy connect() {
      if (resumeFrom != null && !delta) {
        throw new IllegalArgumentException("resuming announces initial_resource_versions: delta only");
      }
      return new SimulatedEnvoy(channel, podName, nodeName, delta, initialVersions, rejecter, resumeFrom,
          recordHistory);
    }
  }

  /** Connects a delta stream that accepts everything. */
  public static SimulatedEnvoy delta(Channel channel, String podName, String nodeName) {
    return new SimulatedEnvoy(channel, podName, nodeName, true, Map.of(), (type, any) -> null);
  }

  /** Connects a SotW stream that accepts everything. */
  public static SimulatedEnvoy sotw(Channel channel, String podName, String nodeName) {
    return new SimulatedEnvoy(channel, podName, nodeName, false, Map.of(), (type, any) -> null);
  }

  /**
   * Connects a delta stream that announces what it already has (as Envoy does after a reconnect) and NACKs
   * whatever {@code rejecter} returns an error for.
   */
  public static SimulatedEnvoy delta(Channel channel, String podName, String nodeName,
      Map<String, Map<String, String>> initialVersions, Rejecter rejecter) {
    return new SimulatedEnvoy(channel, podName, nodeName, true, initialVersions, rejecter);
  }

  // ---- what tests read

  /** Names and contents of one type the client holds now. */
  public synchronized ImmutableMap<String, Received> resources(String typeUrl) {
    return ImmutableMap.copyOf(resources.getOrDefault(typeUrl, Map.of()));
  }

  /** name -> version per type, as a reconnecting delta client announces it. */
  public synchronized Map<String, Map<String, String>> versions() {
    Map<String, Map<String, String>> versions = new HashMap<>();
    resources.forEach((type, byName) -> {
      Map<String, String> names = new HashMap<>();
      byName.forEach((name, received) -> names.put(name, received.version()));
      versions.put(type, names);
    });
    return versions;
  }

  public synchronized ImmutableSet<String> names(String typeUrl) {
    return ImmutableSet.copyOf(resources.getOrDefault(typeUrl, Map.of()).keySet());
  }

  /** Responses received for a type (each one ACKed or NACKed). */
  public synchronized int responses(String typeUrl) {
    return responses.getOrDefault(typeUrl, 0);
  }

  /** When a resource was last removed ({@link System#nanoTime()}), if it was and has not come back since. */
  public synchronized java.util.Optional<Long> removedAt(String typeUrl, String name) {
    return java.util.Optional.ofNullable(removedNanos.getOrDefault(typeUrl, Map.of()).get(name));
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
   * A held resource, decoded. Throws {@link AssertionError} when it is not held, so that awaitility's
   * {@code untilAsserted} keeps waiting for it.
   */
  public <T extends com.google.protobuf.Message> T unpack(String typeUrl, String name, Class<T> type) {
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

  /** Non-null once the stream failed. */
  public Throwable error() {
    return error;
  }

  public boolean completed() {
    return completed;
  }

  public String nodeId() {
    return node.getId();
  }

  // ---- protocol

  private synchronized void onDelta(DeltaDiscoveryResponse response) {
    String type = response.getTypeUrl();
    responses.merge(type, 1, Integer::sum);
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
    Map<String, Received> held = resources.computeIfAbsent(type, t -> new HashMap<>());
    long now = System.nanoTime();
    int sequence = responses.get(type);
    for (Resource resource : response.getResourcesList()) {
      held.put(resource.getName(), new Received(resource.getVersion(), resource.getResource(), now));
      arrived(type, resource.getName(), resource.getVersion(), sequence, now);
    }
    for (String name : response.getRemovedResourcesList()) {
      if (held.remove(name) != null) {
        removed(type, name, sequence, now);
      }
    }
    sendDelta(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type).setResponseNonce(response.getNonce()));
    followReferences();
  }

  private synchronized void onSotw(DiscoveryResponse response) {
    String type = response.getTypeUrl();
    responses.merge(type, 1, Integer::sum);
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
    Map<String, Received> held = resources.computeIfAbsent(type, t -> new HashMap<>());
    long now = System.nanoTime();
    int sequence = responses.get(type);
    Map<String, Received> before = new HashMap<>(held);
    if (type.equals(CDS) || type.equals(LDS)) {
      held.clear(); // SotW LDS/CDS carry the full state
    }
    for (Any any : response.getResourcesList()) {
      String name = nameOf(type, any);
      Received previous = before.get(name);
      boolean changed = previous == null || !previous.resource().equals(any);
      // unchanged content keeps its arrival time: SotW repeats it in every response of the type
      held.put(name, new Received(response.getVersionInfo(), any, changed ? now : previous.arrivedNanos()));
      if (changed) {
        arrived(type, name, response.getVersionInfo(), sequence, now);
      }
    }
    for (String name : before.keySet()) {
      if (!held.containsKey(name)) {
        removed(type, name, sequence, now);
      }
    }
    sotwVersions.put(type, response.getVersionInfo());
    sendSotw(sotwRequest(type));
    followReferences();
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
    removedNanos.computeIfAbsent(type, t -> new HashMap<>()).put(name, now);
    if (history != null) {
      history.add(new Delivery(type, name, null, sequence, now));
    }
  }

  private DiscoveryRequest.Builder sotwRequest(String type) {
    return DiscoveryRequest.newBuilder().setTypeUrl(type)
        .setVersionInfo(sotwVersions.getOrDefault(type, ""))
        .setResponseNonce(sotwNonces.getOrDefault(type, ""))
        .addAllResourceNames(subscribed.getOrDefault(type, Set.of()));
  }

  /** Like Envoy: subscribe to the endpoints and route configs that the held clusters and listeners use. */
  private void followReferences() {
    Set<String> endpoints = new TreeSet<>();
    for (Received received : resources.getOrDefault(CDS, Map.of()).values()) {
      Cluster cluster = unpackQuietly(received.resource(), Cluster.class);
      if (cluster != null) {
        References.endpointsOf(cluster).ifPresent(endpoints::add);
      }
    }
    Set<String> routes = new TreeSet<>();
    for (Received received : resources.getOrDefault(LDS, Map.of()).values()) {
      Listener listener = unpackQuietly(received.resource(), Listener.class);
      if (listener != null) {
        References.routesOf(listener, routes);
      }
    }
    updateSubscription(EDS, endpoints);
    updateSubscription(RDS, routes);
  }

  private void updateSubscription(String type, Set<String> wanted) {
    Set<String> current = subscribed.getOrDefault(type, Set.of());
    if (current.equals(wanted)) {
      return;
    }
    if (wanted.isEmpty() && current.isEmpty()) {
      return;
    }
    Set<String> added = new TreeSet<>(wanted);
    added.removeAll(current);
    Set<String> removed = new TreeSet<>(current);
    removed.removeAll(wanted);
    subscribed.put(type, new TreeSet<>(wanted));
    if (delta) {
      sendDelta(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type)
          .addAllResourceNamesSubscribe(added).addAllResourceNamesUnsubscribe(removed));
    } else {
      sendSotw(sotwRequest(type));
    }
    Map<String, Received> held = resources.computeIfAbsent(type, t -> new HashMap<>());
    long now = System.nanoTime();
    for (String name : removed) {
      if (held.remove(name) != null) {
        removed(type, name, responses.getOrDefault(type, 0), now);
      }
    }
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

  private static String nameOf(String type, Any any) {
    try {
      return switch (type) {
        case CDS -> any.unpack(Cluster.class).getName();
        case LDS -> any.unpack(Listener.class).getName();
        case EDS -> any.unpack(io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment.class).getClusterName();
        default -> any.unpack(io.envoyproxy.envoy.config.route.v3.RouteConfiguration.class).getName();
      };
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  private static <T extends com.google.protobuf.Message> T unpackQuietly(Any any, Class<T> type) {
    try {
      return any.is(type) ? any.unpack(type) : null;
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
  }

  @Override
  public synchronized void close() {
    if (!completed && error == null) {
      try {
        if (delta) {
          deltaRequests.onCompleted();
        } else {
          sotwRequests.onCompleted();
        }
      } catch (RuntimeException ignored) {
        // already closed by the server
      }
    }
  }

  private final class Observer<T> implements StreamObserver<T> {
    private final java.util.function.Consumer<T> handler;

    Observer(java.util.function.Consumer<T> handler) {
      this.handler = handler;
    }

    @Override
    public void onNext(T value) {
      try {
        handler.accept(value);
      } catch (RuntimeException | Error e) {
        // a harness bug must show up as the stream's error, not vanish in a gRPC thread
        error = e;
        throw e;
      }
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {
      completed = true;
    }
  }
}
