package io.nodemesh.e2e;

import static io.nodemesh.e2e.EnvoyResources.endpointIps;
import static io.nodemesh.e2e.EnvoyResources.syncClient;
import static io.nodemesh.e2e.MockKubernetes.ready;
import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static io.nodemesh.testkit.SimulatedEnvoy.CDS;
import static io.nodemesh.testkit.SimulatedEnvoy.EDS;
import static io.nodemesh.testkit.SimulatedEnvoy.LDS;
import static io.nodemesh.testkit.SimulatedEnvoy.RDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.grpc.ManagedChannel;
import io.nodemesh.testkit.SimulatedEnvoy.Delivery;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two control plane replicas against one API server, as the chart runs them: identical state gives identical
 * versions on both, so an Envoy that reconnects — to a restarted replica or to the other one — announces
 * what it holds (initial_resource_versions) and is sent only what changed meanwhile.
 */
class ControlPlaneReplicasIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(20);
  private static final List<String> TYPES = List.of(CDS, EDS, LDS, RDS);
  private static final String WEB = "svc/shop/web/8080";

  private static final ConvergenceLog convergence = new ConvergenceLog("ControlPlaneReplicasIT");
  private static MockKubernetes k8s;
  private static ControlPlaneProcess replicaA;
  private static ControlPlaneProcess replicaB;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<SimulatedEnvoy> envoys = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    k8s = MockKubernetes.withTwoNodes("shop");
    k8s.service("shop", "web", "10.96.0.10", List.of(servicePort("grpc", 8080, "grpc")));
    k8s.service("shop", "db", "10.96.0.11", List.of(servicePort("tcp", 5432, null)));
    k8s.pod("shop", "web-a", "node-1", "10.1.1.10", "web");
    k8s.pod("shop", "web-b", "node-1", "10.1.1.11", "web");
    k8s.pod("shop", "web-c", "node-2", "10.1.2.10", "web");
    k8s.endpoints("shop", "web", "grpc", 8080,
        List.of(ready("10.1.1.10", "node-1"), ready("10.1.1.11", "node-1"), ready("10.1.2.10", "node-2")));
    k8s.endpoints("shop", "db", "tcp", 5432, List.of(ready("10.1.2.50", "node-2")));
    replicaA = ControlPlaneProcess.start("replica-a", k8s.url());
    replicaB = ControlPlaneProcess.start("replica-b", k8s.url());
    replicaA.awaitReady(STARTUP);
    replicaB.awaitReady(STARTUP);
  }

  @AfterAll
  static void stop() throws Exception {
    convergence.printSummary();
    Teardown.closeAll(replicaA, replicaB, k8s);
  }

  @AfterEach
  void closeClients() throws InterruptedException {
    envoys.forEach(SimulatedEnvoy::close);
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private ManagedChannel channel(ControlPlaneProcess replica) {
    ManagedChannel channel = replica.xdsChannel();
    channels.add(channel);
    return channel;
  }

  private SimulatedEnvoy track(SimulatedEnvoy envoy) {
    envoys.add(envoy);
    return envoy;
  }

  @Test
  void twoReplicasServeIdenticalVersionsForTheSameState() throws Exception {
    SimulatedEnvoy deltaA = track(SimulatedEnvoy.delta(channel(replicaA), "envoy-1-a", "node-1"));
    SimulatedEnvoy deltaB = track(SimulatedEnvoy.delta(channel(replicaB), "envoy-1-b", "node-1"));
    SimulatedEnvoy sotwA = track(SimulatedEnvoy.sotw(channel(replicaA), "envoy-2-a", "node-2"));
    SimulatedEnvoy sotwB = track(SimulatedEnvoy.sotw(channel(replicaB), "envoy-2-b", "node-2"));
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertSynced(replicaA, "envoy-1-a", "envoy-2-a");
      assertSynced(replicaB, "envoy-1-b", "envoy-2-b");
      assertThat(deltaA.names(LDS)).isNotEmpty();
      // delta: every resource has the same version on both replicas
      assertThat(deltaB.versions()).isEqualTo(deltaA.versions());
      // SotW: the same version_info per type, and the same resources
      for (String type : TYPES) {
        assertThat(sotwVersions(sotwB, type)).isEqualTo(sotwVersions(sotwA, type));
        assertThat(sotwB.names(type)).isEqualTo(sotwA.names(type));
      }
    });
    // what the clients hold is each node's whole configuration, as both admin endpoints show it
    for (ControlPlaneProcess replica : List.of(replicaA, replicaB)) {
      assertThat(deltaA.names(LDS)).containsExactlyInAnyOrderElementsOf(
          EnvoyResources.configNames(replica.json("/debug/nodes/node-1/config"), "listeners"));
      assertThat(sotwA.names(LDS)).containsExactlyInAnyOrderElementsOf(
          EnvoyResources.configNames(replica.json("/debug/nodes/node-2/config"), "listeners"));
      assertThat(deltaA.names(CDS)).containsExactlyInAnyOrderElementsOf(
          EnvoyResources.configNames(replica.json("/debug/nodes/node-1/config"), "clusters"));
    }
    // the pod's listener, and the internal listener of the HTTP port in the shared service layer
    assertThat(sotwA.names(LDS)).containsExactlyInAnyOrder("pod/shop/web-c/outbound", WEB);
    // and the admin endpoints agree on what each client was sent
    JsonNode syncA = syncClient(replicaA.json("/debug/syncz"), "envoy-2-a");
    JsonNode syncB = syncClient(replicaB.json("/debug/syncz"), "envoy-2-b");
    for (int i = 0; i < syncA.path("types").size(); i++) {
      JsonNode typeA = syncA.path("types").get(i);
      JsonNode typeB = EnvoyResources.syncType(syncB, typeA.path("type_url").asText());
      assertThat(typeB.path("acked_version").asText()).isEqualTo(typeA.path("acked_version").asText());
    }
  }

  @Test
  void deltaEnvoysReconnectingToARestartedOrAnotherReplicaAreSentOnlyWhatChangedMeanwhile() throws Exception {
    SimulatedEnvoy node1 = track(SimulatedEnvoy.builder(channel(replicaA), "envoy-1", "node-1").connect());
    SimulatedEnvoy node2 = track(SimulatedEnvoy.builder(channel(replicaA), "envoy-2", "node-2").connect());
    await().atMost(CONVERGE).untilAsserted(() -> assertSynced(replicaA, "envoy-1", "envoy-2"));
    Map<String, Map<String, String>> held1 = node1.versions();
    Map<String, Map<String, String>> held2 = node2.versions();
    assertThat(held1.get(LDS)).containsOnlyKeys("pod/shop/web-a/outbound", "pod/shop/web-b/outbound", WEB);
    assertThat(held1.get(EDS)).containsKey(WEB);

    // replica A goes away (rolling restart); the Envoys' streams end, they keep their config
    assertThat(replicaA.terminate(Duration.ofSeconds(30))).isZero();
    await().atMost(CONVERGE).until(() -> (node1.error() != null || node1.completed())
        && (node2.error() != null || node2.completed()));

    // meanwhile the cluster changes: web-b goes, web-d arrives on node-1
    k8s.deletePod("shop", "web-b");
    k8s.pod("shop", "web-d", "node-1", "10.1.1.12", "web");
    k8s.endpoints("shop", "web", "grpc", 8080,
        List.of(ready("10.1.1.10", "node-1"), ready("10.1.2.10", "node-2"), ready("10.1.1.12", "node-1")));

    // node-2's Envoy fails over to replica B; node-1's waits for A to come back
    long failover = System.nanoTime();
    SimulatedEnvoy node2OnB = track(SimulatedEnvoy.builder(channel(replicaB), "envoy-2", "node-2")
        .resumeFrom(node2).recordHistory().connect());
    replicaA = ControlPlaneProcess.start("replica-a-restarted", k8s.url()).awaitReady(STARTUP);
    long reconnect = System.nanoTime();
    SimulatedEnvoy node1OnA = track(SimulatedEnvoy.builder(channel(replicaA), "envoy-1", "node-1")
        .resumeFrom(node1).recordHistory().connect());

    await().atMost(CONVERGE).untilAsserted(() -> {
      assertThat(node1OnA.names(LDS))
          .containsExactlyInAnyOrder("pod/shop/web-a/outbound", "pod/shop/web-d/outbound", WEB);
      assertThat(endpointIps(node1OnA.unpack(EDS, WEB, ClusterLoadAssignment.class)))
          .containsExactly("10.1.1.10", "10.1.1.12", "10.1.2.10");
      assertThat(endpointIps(node2OnB.unpack(EDS, WEB, ClusterLoadAssignment.class)))
          .containsExactly("10.1.1.10", "10.1.1.12", "10.1.2.10");
      assertSynced(replicaA, "envoy-1");
      assertSynced(replicaB, "envoy-2");
    });
    convergence.record("restart", "delta reconnect to restarted replica -> changes received", reconnect,
        latestArrival(node1OnA));
    convergence.record("failover", "delta reconnect to other replica -> changes received", failover,
        latestArrival(node2OnB));

    // nothing they already had was sent again: exactly the changes arrived
    assertNothingResent(node1OnA, held1);
    assertNothingResent(node2OnB, held2);
    assertThat(deliveries(node1OnA)).containsExactlyInAnyOrder(
        "+" + LDS + " pod/shop/web-d/outbound", "-" + LDS + " pod/shop/web-b/outbound", "+" + EDS + " " + WEB);
    assertThat(deliveries(node2OnB)).containsExactly("+" + EDS + " " + WEB);
    // and what they hold now is what a fresh client of the same replica gets
    SimulatedEnvoy fresh = track(SimulatedEnvoy.delta(channel(replicaA), "envoy-1-fresh", "node-1"));
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertSynced(replicaA, "envoy-1-fresh");
      assertThat(fresh.versions()).isEqualTo(node1OnA.versions());
    });
  }

  private static void assertSynced(ControlPlaneProcess replica, String... nodeIds) throws Exception {
    JsonNode syncz = replica.json("/debug/syncz");
    for (String nodeId : nodeIds) {
      JsonNode client = syncClient(syncz, nodeId);
      assertThat(client.path("types")).hasSize(4)
          .allSatisfy(type -> assertThat(type.path("state").asText()).as(nodeId).isEqualTo("SYNCED"));
    }
  }

  /** The version_info each SotW resource of a type came with (all equal: one per response). */
  private static Map<String, String> sotwVersions(SimulatedEnvoy envoy, String type) {
    Map<String, String> versions = new TreeMap<>();
    envoy.resources(type).forEach((name, received) -> versions.put(name, received.version()));
    return versions;
  }

  private static void assertNothingResent(SimulatedEnvoy envoy, Map<String, Map<String, String>> held) {
    for (Delivery delivery : envoy.history()) {
      if (!delivery.removal()) {
        String before = held.getOrDefault(delivery.typeUrl(), Map.of()).get(delivery.name());
        assertThat(delivery.version()).as("%s %s was resent at the version the client announced",
            delivery.typeUrl(), delivery.name()).isNotEqualTo(before);
      }
    }
  }

  /** "+type name" per arrival, "-type name" per removal. */
  private static List<String> deliveries(SimulatedEnvoy envoy) {
    return envoy.history().stream()
        .map(d -> (d.removal() ? "-" : "+") + d.typeUrl() + " " + d.name())
        .toList();
  }

  private static long latestArrival(SimulatedEnvoy envoy) {
    return envoy.history().stream().mapToLong(Delivery::nanos).max().orElseThrow();
  }
}
