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
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
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
  private final StreamObserver<DeltaDiscoveryRequest> deltaRequests;
  private final StreamObserver<DiscoveryRequest> sotwRequests;
  private volatile Throwable error;
  private volatile boolean completed;
  private boolean sentNode;

  private SimulatedEnvoy(Channel channel, String podName, String nodeName, boolean delta,
      Map<String, Map<String, String>> initialVersions, Rejecter rejecter) {
    this.node = Node.newBuilder().setId(podName).setCluster("nodemesh-envoy")
        .setMetadata(Struct.newBuilder().putFields("node_name", Value.newBuilder().setStringValue(nodeName).build()))
        .build();
    this.delta = delta;
    this.rejecter = rejecter;
    AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub = AggregatedDiscoveryServiceGrpc.newStub(channel);
    synchronized (this) {
      if (delta) {
        sotwRequests = null;
        deltaRequests = stub.deltaAggregatedResources(new Observer<>(this::onDelta));
        for (String type : List.of(CDS, LDS)) {
          DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type);
          request.putAllInitialResourceVersions(initialVersions.getOrDefault(type, Map.of()));
          sendDelta(request);
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

  public synchronized String lastNack(String typeUrl) {
    return lastNack.get(typeUrl);
  }

  public <T extends com.google.protobuf.Message> T unpack(String typeUrl, String name, Class<T> type) {
    Received received = resources(typeUrl).get(name);
    if (received == null) {
      throw new IllegalStateException(name + " not received");
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
    for (Resource resource : response.getResourcesList()) {
      held.put(resource.getName(), new Received(resource.getVersion(), resource.getResource(), now));
    }
    response.getRemovedResourcesList().forEach(held::remove);
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
    if (type.equals(CDS) || type.equals(LDS)) {
      held.clear(); // SotW LDS/CDS carry the full state
    }
    long now = System.nanoTime();
    for (Any any : response.getResourcesList()) {
      held.put(nameOf(type, any), new Received(response.getVersionInfo(), any, now));
    }
    sotwVersions.put(type, response.getVersionInfo());
    sendSotw(sotwRequest(type));
    followReferences();
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
      if (cluster != null && cluster.getType() == Cluster.DiscoveryType.EDS) {
        String service = cluster.getEdsClusterConfig().getServiceName();
        endpoints.add(service.isEmpty() ? cluster.getName() : service);
      }
    }
    Set<String> routes = new TreeSet<>();
    for (Received received : resources.getOrDefault(LDS, Map.of()).values()) {
      Listener listener = unpackQuietly(received.resource(), Listener.class);
      if (listener == null) {
        continue;
      }
      List<FilterChain> chains = new ArrayList<>(listener.getFilterChainsList());
      chains.add(listener.getDefaultFilterChain());
      for (FilterChain chain : chains) {
        for (Filter filter : chain.getFiltersList()) {
          if (filter.getTypedConfig().is(HttpConnectionManager.class)) {
            HttpConnectionManager hcm = unpackQuietly(filter.getTypedConfig(), HttpConnectionManager.class);
            if (hcm != null && hcm.hasRds()) {
              routes.add(hcm.getRds().getRouteConfigName());
            }
          }
        }
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
      removed.forEach(resources.computeIfAbsent(type, t -> new HashMap<>())::remove);
    } else {
      sendSotw(sotwRequest(type));
      removed.forEach(resources.computeIfAbsent(type, t -> new HashMap<>())::remove);
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
      handler.accept(value);
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
