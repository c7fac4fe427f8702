package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Channel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.nodemesh.api.envoy.EnvoyTypes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-process ADS client for tests, SotW ({@link Sotw}) or delta ({@link Delta}). Responses are queued
 * as they arrive; every helper that waits does so with a deadline. Each response is checked for duplicate
 * names on arrival.
 */
abstract class AdsTestClient<ReqT, RespT> implements AutoCloseable {

  /** How long a test waits for a response that must come. */
  static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(10);

  /** How long a test watches for a response that must not come. */
  static final Duration QUIET_WINDOW = Duration.ofMillis(300);

  final Node node;
  private final BlockingQueue<RespT> responses = new LinkedBlockingQueue<>();
  private final AtomicReference<Throwable> error = new AtomicReference<>();
  private final CountDownLatch closed = new CountDownLatch(1);
  private final int initialRequests;
  private ClientCallStreamObserver<ReqT> requests;
  private boolean nodeSent;

  AdsTestClient(Node node, int initialRequests) {
    this.node = node;
    this.initialRequests = initialRequests;
  }

  /** The response observer handed to the stub; {@code initialRequests < 0} means automatic flow control. */
  final ClientResponseObserver<ReqT, RespT> observer() {
    return new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<ReqT> requestStream) {
        requests = requestStream;
        if (initialRequests >= 0) {
          requestStream.disableAutoRequestWithInitial(initialRequests);
        }
      }

      @Override
      public void onNext(RespT response) {
        responses.add(response);
      }

      @Override
      public void onError(Throwable t) {
        error.set(t);
        closed.countDown();
      }

      @Override
      public void onCompleted() {
        closed.countDown();
      }
    };
  }

  /** Names in a response, in order, for the duplicate check. */
  abstract List<String> namesIn(RespT response);

  /** Applies a response to the client's own view of what it holds. */
  void received(RespT response) {}

  /** Whether this is the first request (which carries the node, as Envoy does). */
  final boolean takeFirst() {
    boolean first = !nodeSent;
    nodeSent = true;
    return first;
  }

  final void sendRaw(ReqT request) {
    requests.onNext(request);
  }

  /** The next response; fails the test if none arrives within {@link #RESPONSE_TIMEOUT}. */
  final RespT awaitResponse() {
    RespT response = poll(RESPONSE_TIMEOUT);
    if (response == null) {
      fail("node %s: no response within %s (stream error: %s)", node.getId(), RESPONSE_TIMEOUT, error.get());
    }
    return response;
  }

  /** The next response within {@code timeout}, or null: for clients that answer until the server goes quiet. */
  final RespT pollResponse(Duration timeout) {
    return poll(timeout);
  }

  private RespT poll(Duration timeout) {
    RespT response;
    try {
      response = responses.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    if (response != null) {
      List<String> names = namesIn(response);
      assertThat(new HashSet<>(names)).as("names in one response are unique: %s", names).hasSize(names.size());
      received(response);
    }
    return response;
  }

  /** Fails if a response arrives within {@code window}: a bounded wait, not a sleep to make a test pass. */
  final void expectNoResponse(Duration window) {
    RespT response = poll(window);
    assertThat(response).as("node %s: unexpected response within %s", node.getId(), window).isNull();
  }

  final void expectNoResponse() {
    expectNoResponse(QUIET_WINDOW);
  }

  /** Every response that arrives within {@code window}. */
  final List<RespT> responsesWithin(Duration window) {
    List<RespT> all = new ArrayList<>();
    long deadline = System.nanoTime() + window.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return all;
      }
      RespT response = poll(Duration.ofNanos(left));
      if (response != null) {
        all.add(response);
      }
    }
  }

  /** Whether the stream has ended (with an error or completed). */
  final boolean ended() {
    return closed.getCount() == 0;
  }

  /** Responses already queued (not yet taken by the test). */
  final int queued() {
    return responses.size();
  }

  /** Lets a client created with manual flow control take {@code count} more responses. */
  final void requestMore(int count) {
    requests.request(count);
  }

  /** Cancels the call, like a client that disconnects. */
  final void cancel() {
    requests.cancel("test client disconnects", null);
  }

  /** The error the stream ended with; fails if it does not end within the timeout. */
  final Throwable awaitError() {
    try {
      assertThat(closed.await(RESPONSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).as("stream ends").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    return error.get();
  }

  @Override
  public void close() {
    if (closed.getCount() > 0) {
      requests.cancel("test done", null);
    }
  }

  static String nameOf(Any any) {
    try {
      Message message = EnvoyTypes.unpack(any);
      return ResourceType.of(message).nameOf(message);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("response carries an unparsable resource", e);
    }
  }

  /** A state-of-the-world client that behaves like Envoy: names per type, ACKs echo version and nonce. */
  static final class Sotw extends AdsTestClient<DiscoveryRequest, DiscoveryResponse> {
    private final Map<ResourceType, List<String>> names = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, String> lastNonce = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, String> ackedVersion = new EnumMap<>(ResourceType.class);

    private Sotw(Node node, int initialRequests) {
      super(node, initialRequests);
    }

    static Sotw connect(Channel channel, Node node) {
      return connect(channel, node, -1);
    }

    static Sotw connect(Channel channel, Node node, int initialRequests) {
      Sotw client = new Sotw(node, initialRequests);
      AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(client.observer());
      return client;
    }

    @Override
    List<String> namesIn(DiscoveryResponse response) {
      return response.getResourcesList().stream().map(AdsTestClient::nameOf).toList();
    }

    @Override
    void received(DiscoveryResponse response) {
      ResourceType.fromTypeUrl(response.getTypeUrl()).ifPresent(t -> lastNonce.put(t, response.getNonce()));
    }

    private DiscoveryRequest.Builder base(ResourceType type) {
      DiscoveryRequest.Builder request =
          DiscoveryRequest.newBuilder()
              .setTypeUrl(type.typeUrl())
              .addAllResourceNames(names.getOrDefault(type, List.of()))
              .setVersionInfo(ackedVersion.getOrDefault(type, ""))
              .setResponseNonce(lastNonce.getOrDefault(type, ""));
      if (takeFirst()) {
        request.setNode(node);
      }
      return request;
    }

    /** Subscribes to exactly {@code resourceNames} (none: wildcard on a first LDS/CDS request). */
    void request(ResourceType type, String... resourceNames) {
      names.put(type, List.of(resourceNames));
      sendRaw(base(type).build());
    }

    /** First request of a reconnecting client: the version it holds (version_info), plus its names. */
    void resume(ResourceType type, String version, String... resourceNames) {
      ackedVersion.put(type, version);
      request(type, resourceNames);
    }

    DiscoveryResponse awaitResponse(ResourceType type) {
      DiscoveryResponse response = awaitResponse();
      assertThat(response.getTypeUrl()).as("type of the next response").isEqualTo(type.typeUrl());
      return response;
    }

    void ack(DiscoveryResponse response) {
      ResourceType type = ResourceType.fromTypeUrl(response.getTypeUrl()).orElseThrow();
      ackedVersion.put(type, response.getVersionInfo());
      lastNonce.put(type, response.getNonce());
      sendRaw(base(type).build());
    }

    void nack(DiscoveryResponse response, String message) {
      ResourceType type = ResourceType.fromTypeUrl(response.getTypeUrl()).orElseThrow();
      lastNonce.put(type, response.getNonce());
      sendRaw(base(type).setErrorDetail(Status.newBuilder().setCode(3).setMessage(message)).build());
    }

    DiscoveryResponse requestResponseAck(ResourceType type, String... resourceNames) {
      request(type, resourceNames);
      DiscoveryResponse response = awaitResponse(type);
      ack(response);
      return response;
    }
  }

  /** A delta client that tracks what it holds, so it can reconnect with initial_resource_versions. */
  static final class Delta extends AdsTestClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
    private final Map<ResourceType, Map<String, String>> held = new EnumMap<>(ResourceType.class);

    private Delta(Node node, int initialRequests) {
      super(node, initialRequests);
    }

    static Delta connect(Channel channel, Node node) {
      return connect(channel, node, -1);
    }

    static Delta connect(Channel channel, Node node, int initialRequests) {
      Delta client = new Delta(node, initialRequests);
      AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(client.observer());
      return client;
    }

    @Override
    List<String> namesIn(DeltaDiscoveryResponse response) {
      List<String> all = new ArrayList<>();
      response.getResourcesList().forEach(r -> all.add(r.getName()));
      all.addAll(response.getRemovedResourcesList());
      return all;
    }

    @Override
    void received(DeltaDiscoveryResponse response) {
      ResourceType type = ResourceType.fromTypeUrl(response.getTypeUrl()).orElseThrow();
      Map<String, String> mine = held.computeIfAbsent(type, t -> new LinkedHashMap<>());
      response.getResourcesList().forEach(r -> mine.put(r.getName(), r.getVersion()));
      response.getRemovedResourcesList().forEach(mine::remove);
    }

    private DeltaDiscoveryRequest.Builder base(ResourceType type) {
      DeltaDiscoveryRequest.Builder request = DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl());
      if (takeFirst()) {
        request.setNode(node);
      }
      return request;
    }

    void send(DeltaDiscoveryRequest.Builder request) {
      if (takeFirst()) {
        request.setNode(node);
      }
      sendRaw(request.build());
    }

    /** Subscribes to names ({@code *} for wildcard; none on a first LDS/CDS request: legacy wildcard). */
    void subscribe(ResourceType type, String... names) {
      sendRaw(base(type).addAllResourceNamesSubscribe(List.of(names)).build());
    }

    /** First request of a reconnecting client: what it holds, plus its subscriptions. */
    void resume(ResourceType type, Map<String, String> versions, String... names) {
      sendRaw(base(type).putAllInitialResourceVersions(versions).addAllResourceNamesSubscribe(List.of(names)).build());
    }

    void unsubscribe(ResourceType type, String... names) {
      sendRaw(base(type).addAllResourceNamesUnsubscribe(List.of(names)).build());
    }

    DeltaDiscoveryResponse awaitResponse(ResourceType type) {
      DeltaDiscoveryResponse response = awaitResponse();
      assertThat(response.getTypeUrl()).as("type of the next response").isEqualTo(type.typeUrl());
      return response;
    }

    void ack(DeltaDiscoveryResponse response) {
      ResourceType type = ResourceType.fromTypeUrl(response.getTypeUrl()).orElseThrow();
      sendRaw(base(type).setResponseNonce(response.getNonce()).build());
    }

    void nack(DeltaDiscoveryResponse response, String message) {
      ResourceType type = ResourceType.fromTypeUrl(response.getTypeUrl()).orElseThrow();
      sendRaw(
          base(type)
              .setResponseNonce(response.getNonce())
              .setErrorDetail(Status.newBuilder().setCode(3).setMessage(message))
              .build());
    }

    DeltaDiscoveryResponse subscribeResponseAck(ResourceType type, String... names) {
      subscribe(type, names);
      DeltaDiscoveryResponse response = awaitResponse(type);
      ack(response);
      return response;
    }

    /** What the client holds of a type: name -> version. */
    Map<String, String> held(ResourceType type) {
      return Map.copyOf(held.getOrDefault(type, Map.of()));
    }

    static Set<String> resourceNames(DeltaDiscoveryResponse response) {
      Set<String> names = new java.util.LinkedHashSet<>();
      response.getResourcesList().forEach(r -> names.add(r.getName()));
      return names;
    }
  }
}
