package io.nodemesh.e2e;

import static io.nodemesh.e2e.EnvoyResources.endpointIps;
import static io.nodemesh.e2e.MockKubernetes.ready;
import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static io.nodemesh.testkit.SimulatedEnvoy.EDS;
import static io.nodemesh.testkit.SimulatedEnvoy.LDS;
import static io.nodemesh.testkit.SimulatedEnvoy.RDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.grpc.ManagedChannel;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The API server goes away and comes back on its address with its stored state (as after an API server
 * restart: etcd keeps everything) plus changes made meanwhile. The control plane keeps serving the last good
 * config throughout, never serves an empty or partial cluster, and catches up once it can list again.
 */
class ApiServerOutageIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(20);
  /** fabric8 informers back off exponentially between attempts while the API server is unreachable. */
  private static final Duration CATCH_UP = Duration.ofSeconds(90);
  private static final String WEB = "svc/shop/web/8080";

  private final ConvergenceLog convergence = new ConvergenceLog("ApiServerOutageIT");
  /** The API server now: it moves away during the outage and back afterwards. */
  private MockKubernetes api;

  @Test
  void anApiServerOutageKeepsTheLastGoodConfigServedAndItsChangesArriveOnceItIsBack() throws Exception {
    api = MockKubernetes.start();
    int apiPort = api.port();
    try {
      api.namespace("shop", true);
      api.node("node-1", "zone-a");
      api.service("shop", "web", "10.96.0.10", List.of(servicePort("http", 8080, "http")));
      api.pod("shop", "web-a", "node-1", "10.1.1.10", "web");
      api.pod("shop", "web-b", "node-1", "10.1.1.11", "web");
      api.endpoints("shop", "web", "http", 8080,
          List.of(ready("10.1.1.10", "node-1"), ready("10.1.1.11", "node-1")));
      try (ControlPlaneProcess plane = ControlPlaneProcess.start("api-outage", api.url()).awaitReady(STARTUP)) {
        ManagedChannel channel = plane.xdsChannel();
        try (SimulatedEnvoy envoy = SimulatedEnvoy.builder(channel, "envoy-1", "node-1").recordHistory().connect()) {
          outageAndRecovery(plane, envoy, apiPort);
        } finally {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    } finally {
      api.close();
      convergence.printSummary();
    }
  }

  private void outageAndRecovery(ControlPlaneProcess plane, SimulatedEnvoy envoy, int apiPort) throws Exception {
    await().atMost(CONVERGE).untilAsserted(() -> {
      // both pods' listeners and the HTTP port's internal listener of the shared service layer
      assertThat(envoy.names(LDS))
          .containsExactlyInAnyOrder("pod/shop/web-a/outbound", "pod/shop/web-b/outbound", WEB);
      assertThat(endpointIps(envoy.unpack(EDS, WEB, ClusterLoadAssignment.class)))
          .containsExactly("10.1.1.10", "10.1.1.11");
      // the route is subscribed only once the listener arrived; without it a late RDS push looks like a change
      assertThat(envoy.names(RDS)).containsExactly(WEB);
    });
    Map<String, Map<String, String>> before = envoy.versions();
    int deliveriesBefore = envoy.history().size();
    long listsBefore = lists(plane);

    // outage: the API server stops answering; its state lives on (moved to a port nobody watches)
    api = api.moveTo(0);
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(plane.json("/readyz").path("api_server").asText())
            .startsWith("unreachable: serving the last good config"));
    assertThat(plane.status("/readyz")).isEqualTo(200);
    assertThat(EnvoyResources.configNames(plane.json("/debug/nodes/node-1/config"), "listeners"))
        .containsExactlyInAnyOrder("pod/shop/web-a/outbound", "pod/shop/web-b/outbound", WEB);

    // meanwhile (through another API server replica) web-b is deleted and web-c scheduled
    api.deletePod("shop", "web-b");
    api.pod("shop", "web-c", "node-1", "10.1.1.12", "web");
    api.endpoints("shop", "web", "http", 8080, List.of(ready("10.1.1.10", "node-1"), ready("10.1.1.12", "node-1")));
    // the control plane, blind to it, still serves the last good config and pushed nothing
    assertThat(envoy.versions()).isEqualTo(before);
    assertThat(envoy.history()).hasSize(deliveriesBefore);
    assertThat(envoy.error()).isNull();

    // the API server is back on its address with that state; its watch cache starts empty (410 Gone)
    long back = System.nanoTime();
    api = api.moveTo(apiPort);
    await().atMost(CATCH_UP).untilAsserted(() -> {
      assertThat(envoy.names(LDS))
          .containsExactlyInAnyOrder("pod/shop/web-a/outbound", "pod/shop/web-c/outbound", WEB);
      assertThat(endpointIps(envoy.unpack(EDS, WEB, ClusterLoadAssignment.class)))
          .containsExactly("10.1.1.10", "10.1.1.12");
    });
    convergence.record("API server back", "API reachable again -> changes at the node's Envoy", back,
        envoy.history().stream().mapToLong(SimulatedEnvoy.Delivery::nanos).max().orElseThrow());
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertThat(plane.json("/readyz").path("api_server").asText()).isEqualTo("reachable");
      assertThat(plane.json("/debug/pods/shop/web-c").path("acked").asBoolean()).isTrue();
    });
    System.out.printf("[outage] informer lists before %d, after %d%n", listsBefore, lists(plane));
    assertThat(lists(plane)).as("the informers relisted").isGreaterThan(listsBefore);
    // only the changes were pushed: web-a's listener was never resent, nothing was dropped in between
    List<SimulatedEnvoy.Delivery> afterOutage = envoy.history().subList(deliveriesBefore, envoy.history().size());
    assertThat(afterOutage).noneMatch(d -> d.name().equals("pod/shop/web-a/outbound"));
    assertThat(afterOutage).filteredOn(SimulatedEnvoy.Delivery::removal)
        .extracting(SimulatedEnvoy.Delivery::name).containsExactly("pod/shop/web-b/outbound");
    assertThat(envoy.versions().get(LDS).get("pod/shop/web-a/outbound"))
        .isEqualTo(before.get(LDS).get("pod/shop/web-a/outbound"));
  }

  /** Lists done by all informers so far (from /debug/state). */
  private static long lists(ControlPlaneProcess plane) throws Exception {
    long lists = 0;
    for (JsonNode informer : plane.json("/debug/state").path("watchers").path("informers")) {
      lists += informer.path("lists").asLong();
    }
    return lists;
  }
}
