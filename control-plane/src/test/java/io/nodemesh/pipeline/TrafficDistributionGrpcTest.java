package io.nodemesh.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.security.NodeAuthorizer;
import io.nodemesh.security.PeerBinding;
import io.nodemesh.security.ReviewedToken;
import io.nodemesh.testkit.GrpcBackends;
import io.nodemesh.xds.XdsServerOptions;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code trafficDistribution: PreferSameZone} proved with grpc-java's xDS client: a client that asks for the Service
 * by its plain name ({@code xds:///{svc}.{ns}.svc.cluster.local:{port}}) and presents its pod's token is served its
 * node's zone variant; it reaches the endpoints of its zone while any is ready, fails over to the other zone's when
 * they go, and comes back when one returns. A client without a token may name its zone's variant in its target
 * ({@code {zone}.zone.{svc}...}). The endpoints are real gRPC servers on 127.0.0.x; the resources are what the
 * production pipeline translates; the tokens are checked by the production authorizer against a TokenReview
 * stand-in.
 */
class TrafficDistributionGrpcTest {

  private static final String NAMESPACE = "shop";
  private static final int SERVICE_PORT = 50051;
  private static final String TARGET = "greeter." + NAMESPACE + ".svc.cluster.local:" + SERVICE_PORT;
  private static final String ZONE_B_TARGET = "zone-b.zone." + TARGET;

  /** The TokenReview API's answers: each client pod's token, bound to the pod and its node. */
  private static final Map<String, ReviewedToken> TOKENS = Map.of(
      "token-of-frontend-a", bound("frontend-a", "node-a1"),
      "token-of-frontend-b", bound("frontend-b", "node-b"));

  private final AtomicReference<ClusterState> current = new AtomicReference<>(ClusterState.empty());
  private final ProxylessPipeline mesh = new ProxylessPipeline(XdsServerOptions.DEFAULTS.withAuthorizer(
      new NodeAuthorizer(NodeAuthMode.TOKEN, new PeerBinding(false, ""), token -> CompletableFuture.completedFuture(
          TOKENS.getOrDefault(token, ReviewedToken.rejected("unknown token"))), current::get, true)));

  TrafficDistributionGrpcTest() throws IOException {}

  @AfterEach
  void stop() throws InterruptedException {
    mesh.close();
  }

  @Test
  void aClientInZoneAStaysInZoneAWhileAnyEndpointIsReadyThereAndFailsOverWhenTheyGo() throws Exception {
    // every replica listens on the same port (the slice has one port), each on its own pod IP
    Server a1 = mesh.serve(GrpcBackends.start("127.0.0.2", 0, "zone-a-1"));
    int port = a1.getPort();
    mesh.serve(GrpcBackends.start("127.0.0.3", port, "zone-a-2"));
    mesh.serve(GrpcBackends.start("127.0.0.4", port, "zone-b-1"));
    Endpoint zoneA1 = new Endpoint("127.0.0.2", "node-a1", "zone-a");
    Endpoint zoneA2 = new Endpoint("127.0.0.3", "node-a2", "zone-a");
    Endpoint zoneB = new Endpoint("127.0.0.4", "node-b", "zone-b");

    publish(state(port, zoneA1, zoneA2, zoneB));
    ManagedChannel inZoneA = mesh.channel(TARGET, "frontend-a", "token-of-frontend-a");
    ManagedChannel inZoneB = mesh.channel(TARGET, "frontend-b", "token-of-frontend-b");
    ManagedChannel namingZoneB = mesh.channel(ZONE_B_TARGET, "anonymous-in-zone-b");
    GrpcBackends.ask(inZoneA, 20_000, true);
    GrpcBackends.ask(inZoneB, 20_000, true);
    GrpcBackends.ask(namingZoneB, 20_000, true);

    assertThat(answers(inZoneA, 100).keySet()).as("both zone-a endpoints, nothing else")
        .containsExactlyInAnyOrder("zone-a-1", "zone-a-2");
    assertThat(answers(inZoneB, 50).keySet()).containsExactly("zone-b-1");
    assertThat(answers(namingZoneB, 50).keySet()).containsExactly("zone-b-1");

    // one zone-a endpoint goes: the other still takes everything
    publish(state(port, zoneA2, zoneB));
    await().atMost(Duration.ofSeconds(10)).until(() -> answers(inZoneA, 20).keySet().equals(java.util.Set.of("zone-a-2")));

    // the last one goes: fail over to zone-b
    long gone = System.nanoTime();
    publish(state(port, zoneB));
    await().atMost(Duration.ofSeconds(20)).until(() -> answers(inZoneA, 20).keySet().equals(java.util.Set.of("zone-b-1")));
    long failover = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - gone);

    // one comes back: back to zone-a
    long back = System.nanoTime();
    publish(state(port, zoneA1, zoneB));
    await().atMost(Duration.ofSeconds(20)).until(() -> answers(inZoneA, 20).keySet().equals(java.util.Set.of("zone-a-1")));
    long failback = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - back);
    System.out.printf("[traffic-distribution] zone-a client: last zone-a endpoint gone -> 20 RPCs in a row on zone-b:"
        + " %d ms; a zone-a endpoint back -> 20 in a row on it: %d ms%n", failover, failback);
  }

  private void publish(ClusterState state) {
    current.set(state);
    mesh.publish(state);
  }

  private static ReviewedToken bound(String pod, String node) {
    return new ReviewedToken(true, "", "system:serviceaccount:" + NAMESPACE + ":frontend", Optional.of(pod),
        Optional.of("uid-" + pod), Optional.of(node), Optional.of(Instant.now().plusSeconds(3600)));
  }

  private record Endpoint(String ip, String node, String zone) {}

  private static ClusterState state(int port, Endpoint... endpoints) {
    ClusterState.Builder state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(NodeInfo.of("node-a1", "zone-a"))
        .putNode(NodeInfo.of("node-a2", "zone-a"))
        .putNode(NodeInfo.of("node-b", "zone-b"))
        .putService(new ServiceInfo(NAMESPACE, "greeter", ImmutableList.of("10.96.0.20"),
            ImmutableList.of(new ServicePort("grpc", SERVICE_PORT, "grpc", Protocol.TCP, Optional.of("grpc"))),
            ImmutableSortedMap.of("app", "greeter"), TrafficDistribution.PREFER_SAME_ZONE));
    ImmutableList.Builder<EndpointInfo> ready = ImmutableList.builder();
    for (Endpoint endpoint : endpoints) {
      ready.add(new EndpointInfo(ImmutableList.of(endpoint.ip()), true, true, false, Optional.of(endpoint.node()),
          Optional.of(endpoint.zone()), Optional.empty()));
    }
    return state.putEndpointSlice(new EndpointSliceInfo(NAMESPACE, "greeter-1", "greeter", AddressType.IPV4,
        ImmutableList.of(new EndpointPort("grpc", port, Protocol.TCP, Optional.of("grpc"))), ready.build())).build();
  }

  private static Map<String, Integer> answers(ManagedChannel channel, int calls) {
    Map<String, Integer> answers = new TreeMap<>();
    for (int i = 0; i < calls; i++) {
      String backend;
      try {
        backend = GrpcBackends.ask(channel, 5_000, false);
      } catch (StatusRuntimeException e) {
        backend = e.getStatus().getCode().name();
      }
      answers.merge(backend, 1, Integer::sum);
    }
    return answers;
  }
}
