package io.nodemesh.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.nodemesh.k8s.Change;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.testkit.GrpcBackends;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * GRPCRoutes proved with a real client: grpc-java's xDS client reads what the production pipeline translates
 * from a cluster state holding Services, EndpointSlices and routes, and sends real RPCs to gRPC servers on
 * 127.0.0.x, so the split, the header match and the retry policy are measured, not just printed.
 */
class MeshRoutesGrpcTest {

  private static final String NAMESPACE = "shop";
  private static final int SERVICE_PORT = 50051;
  private static final String TARGET = "greeter." + NAMESPACE + ".svc.cluster.local:" + SERVICE_PORT;
  private static final int RPCS = 1_000;


  private ProxylessPipeline mesh;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws IOException {
    mesh = new ProxylessPipeline();
  }

  @AfterEach
  void stop() throws InterruptedException {
    mesh.close();
  }

  @Test
  void aGrpcRouteSplitsRequestsEightyTwentyAcrossTwoServices() throws Exception {
    Server stable = backend("127.0.0.2", "stable", new AtomicInteger(), false);
    Server canary = backend("127.0.0.3", "canary", new AtomicInteger(), false);
    publish(cluster(stable, canary, route(
        rule(null, backend("greeter", 80), backend("greeter-canary", 20)))));
    connect();

    Map<String, Integer> answers = new TreeMap<>();
    for (int i = 0; i < RPCS; i++) {
      answers.merge(ask(channel), 1, Integer::sum);
    }
    double stableShare = answers.getOrDefault("stable", 0) * 100.0 / RPCS;
    System.out.printf("[mesh-routes] 80/20 GRPCRoute split over %d RPCs: %s (stable %.1f %%)%n", RPCS, answers,
        stableShare);
    assertThat(answers.keySet()).containsOnly("stable", "canary");
    assertThat(stableShare).isBetween(75.0, 85.0);
  }

  @Test
  void aHeaderMatchSendsOnlyMatchingCallsToTheCanary() throws Exception {
    Server stable = backend("127.0.0.2", "stable", new AtomicInteger(), false);
    Server canary = backend("127.0.0.3", "canary", new AtomicInteger(), false);
    MeshRoute.Match canaryHeader = new MeshRoute.Match(null,
        ImmutableList.of(new MeshRoute.ValueMatch("x-canary", MeshRoute.MatchType.EXACT, "yes")), "", null);
    publish(cluster(stable, canary, route(
        rule(canaryHeader, backend("greeter-canary", 1)),
        rule(null, backend("greeter", 1)))));
    connect();

    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-canary", Metadata.ASCII_STRING_MARSHALLER), "yes");
    Channel withHeader = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    Map<String, Integer> answers = new TreeMap<>();
    for (int i = 0; i < 100; i++) {
      answers.merge("with header -> " + ask(withHeader), 1, Integer::sum);
      answers.merge("without -> " + ask(channel), 1, Integer::sum);
    }
    assertThat(answers).containsExactlyInAnyOrderEntriesOf(Map.of("with header -> canary", 100, "without -> stable", 100));
  }

  @Test
  void theRetryPolicyTurnsABackendsFirstUnavailableIntoASuccess() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    Server flaky = backend("127.0.0.2", "flaky", attempts, true);
    Server unused = backend("127.0.0.3", "canary", new AtomicInteger(), false);
    publish(cluster(flaky, unused, route(rule(null, backend("greeter", 1)))));
    connect();
    ask(channel); // connected: from here every other attempt fails
    attempts.set(0);

    int calls = 100;
    for (int i = 0; i < calls; i++) {
      assertThat(ask(channel)).isEqualTo("flaky");
    }
    System.out.printf("[mesh-routes] %d RPCs succeeded after %d attempts at a backend failing every other one%n",
        calls, attempts.get());
    // every odd attempt failed with UNAVAILABLE and was retried: about two attempts per call, no call failed
    assertThat(attempts.get()).isGreaterThanOrEqualTo(calls + calls / 2 - 1);
  }

  @Test
  void aRouteThatStopsSendingToABackendMovesEveryCallOnceTheClientHasIt() throws Exception {
    Server stable = backend("127.0.0.2", "stable", new AtomicInteger(), false);
    Server canary = backend("127.0.0.3", "canary", new AtomicInteger(), false);
    publish(cluster(stable, canary, route(rule(null, backend("greeter", 50), backend("greeter-canary", 50)))));
    connect();
    await().atMost(Duration.ofSeconds(10)).until(() -> ask(channel).equals("canary"));

    long changed = System.nanoTime();
    publish(cluster(stable, canary, route(rule(null, backend("greeter", 100), backend("greeter-canary", 0)))));
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      for (int i = 0; i < 50; i++) {
        if (!ask(channel).equals("stable")) {
          return false;
        }
      }
      return true;
    });
    System.out.printf("[mesh-routes] weight change -> 50 calls in a row on the remaining backend: %d ms%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - changed));
  }

  @Test
  void aBackendServiceCreatedAfterItsRouteIsPickedUpByTheIncrementalPath() throws Exception {
    Server stable = backend("127.0.0.2", "stable", new AtomicInteger(), false);
    Server canary = backend("127.0.0.3", "canary", new AtomicInteger(), false);
    MeshRoute split = route(rule(null, backend("greeter", 50), backend("greeter-canary", 50)));
    ClusterState withoutCanary = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(NodeInfo.of("node-a", "zone-a"))
        .putService(service("greeter"))
        .putEndpointSlice(slice("greeter", stable))
        .putRoute(split)
        .build();
    mesh.publish(withoutCanary);
    channel = mesh.channel(TARGET, "mesh-routes-client");
    // not wait-for-ready: a call routed to the backend that does not resolve would wait for it until its deadline.
    // grpc-java resolves the route only once it gave up on that cluster (SotW: its 15 s does-not-exist timer)
    await().atMost(Duration.ofSeconds(40)).until(() -> askOrFailure(channel).equals("stable"));
    // half the calls go to the backend that does not resolve: they fail, the others reach the stable server
    Map<String, Integer> before = new TreeMap<>();
    for (int i = 0; i < 40; i++) {
      before.merge(askOrFailure(channel), 1, Integer::sum);
    }
    assertThat(before).containsKeys("stable", "UNAVAILABLE").doesNotContainKey("canary");

    // only the canary Service and its slice changed; the route's parent is retranslated because it names it
    ClusterState withCanary = withoutCanary.toBuilder()
        .putService(service("greeter-canary"))
        .putEndpointSlice(slice("greeter-canary", canary))
        .build();
    ObjectKey canaryKey = ObjectKey.of(NAMESPACE, "greeter-canary");
    mesh.publish(withCanary,
        Change.builder().service(canaryKey).endpoints(canaryKey).observedAt(System.nanoTime()).build());
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      Map<String, Integer> after = new TreeMap<>();
      for (int i = 0; i < 40; i++) {
        after.merge(askOrFailure(channel), 1, Integer::sum);
      }
      return after.keySet().equals(java.util.Set.of("stable", "canary"));
    });
  }

  private static String askOrFailure(Channel channel) {
    try {
      return ask(channel);
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode().name();
    }
  }

  private void connect() {
    channel = mesh.channel(TARGET, "mesh-routes-client");
    GrpcBackends.ask(channel, 20_000, true);
  }

  private void publish(ClusterState state) {
    mesh.publish(state);
  }

  private Server backend(String ip, String name, AtomicInteger attempts, boolean failEveryOther) throws IOException {
    return mesh.serve(GrpcBackends.start(ip, 0, name, call -> attempts.incrementAndGet() % 2 == 1 && failEveryOther));
  }

  private static String ask(Channel channel) {
    return GrpcBackends.ask(channel, 5_000, false);
  }

  /** The greeter and greeter-canary Services, each with one ready endpoint: the two servers. */
  private static ClusterState cluster(Server greeter, Server canary, MeshRoute route) {
    return ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(NodeInfo.of("node-a", "zone-a"))
        .putService(service("greeter"))
        .putService(service("greeter-canary"))
        .putEndpointSlice(slice("greeter", greeter))
        .putEndpointSlice(slice("greeter-canary", canary))
        .putRoute(route)
        .build();
  }

  private static ServiceInfo service(String name) {
    return new ServiceInfo(NAMESPACE, name, ImmutableList.of(name.equals("greeter") ? "10.96.0.20" : "10.96.0.21"),
        ImmutableList.of(new ServicePort("grpc", SERVICE_PORT, "grpc", Protocol.TCP, Optional.of("grpc"))),
        ImmutableSortedMap.of("app", name));
  }

  private static EndpointSliceInfo slice(String service, Server server) {
    String ip = ((InetSocketAddress) server.getListenSockets().get(0)).getAddress().getHostAddress();
    return new EndpointSliceInfo(NAMESPACE, service + "-1", service, AddressType.IPV4,
        ImmutableList.of(new EndpointPort("grpc", server.getPort(), Protocol.TCP, Optional.of("grpc"))),
        ImmutableList.of(new EndpointInfo(ImmutableList.of(ip), true, true, false, Optional.of("node-a"),
            Optional.of("zone-a"), Optional.empty())));
  }

  private static MeshRoute route(MeshRoute.Rule... rules) {
    return new MeshRoute(MeshRoute.Kind.GRPC_ROUTE, NAMESPACE, "greeter", 1, 0,
        ImmutableList.of(new MeshRoute.Parent(NAMESPACE, "greeter", SERVICE_PORT, "")), ImmutableList.copyOf(rules),
        null);
  }

  private static MeshRoute.Rule rule(MeshRoute.Match match, MeshRoute.Backend... backends) {
    return new MeshRoute.Rule(match == null ? ImmutableList.of() : ImmutableList.of(match), ImmutableList.of(),
        ImmutableList.copyOf(backends), null, null, null);
  }

  private static MeshRoute.Backend backend(String service, int weight) {
    return new MeshRoute.Backend("", "Service", NAMESPACE, service, SERVICE_PORT, weight);
  }
}
