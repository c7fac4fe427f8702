package io.nodemesh.e2e;

import static io.nodemesh.e2e.EnvoyResources.chain;
import static io.nodemesh.e2e.EnvoyResources.endpointIps;
import static io.nodemesh.e2e.EnvoyResources.filterStateNetns;
import static io.nodemesh.e2e.EnvoyResources.httpConnectionManager;
import static io.nodemesh.e2e.EnvoyResources.syncClient;
import static io.nodemesh.e2e.EnvoyResources.syncType;
import static io.nodemesh.e2e.MockKubernetes.ready;
import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static io.nodemesh.e2e.MockKubernetes.terminating;
import static io.nodemesh.testkit.SimulatedEnvoy.CDS;
import static io.nodemesh.testkit.SimulatedEnvoy.EDS;
import static io.nodemesh.testkit.SimulatedEnvoy.LDS;
import static io.nodemesh.testkit.SimulatedEnvoy.RDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TrafficDirection;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.grpc.ManagedChannel;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Kubernetes objects change through the API; two node Envoys (node-1 on a delta stream, node-2 on SotW) and
 * the admin endpoint show the outcome. One control plane serves every scenario of the class: each works in
 * its own pods and services, and the shared ones ({@code web}) are only read.
 */
class PodLifecycleIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(20);
  private static final String NETNS_TEMPLATE = "/var/run/nodemesh/netns/";
  private static final String WEB = "svc/shop/web/8080";
  private static final String WEB_ENTRY = "dst/10.96.0.10/8080";

  private static final ConvergenceLog convergence = new ConvergenceLog("PodLifecycleIT");
  private static MockKubernetes k8s;
  private static ControlPlaneProcess plane;
  private static ManagedChannel channel;
  private static SimulatedEnvoy node1;
  private static SimulatedEnvoy node2;

  @BeforeAll
  static void start() throws Exception {
    k8s = MockKubernetes.withTwoNodes("shop");
    k8s.service("shop", "web", "10.96.0.10", List.of(servicePort("http", 8080, "http")));
    k8s.pod("shop", "web-0", "node-2", "10.1.2.10", "web");
    // a node's Envoy gets clusters once the node has a meshed pod: give node-1 one too
    k8s.pod("shop", "caller", "node-1", "10.1.1.20", "caller");
    k8s.endpoints("shop", "web", "http", 8080, List.of(ready("10.1.2.10", "node-2")));
    plane = ControlPlaneProcess.start("lifecycle", k8s.url()).awaitReady(STARTUP);
    channel = plane.xdsChannel();
    node1 = SimulatedEnvoy.builder(channel, "envoy-node-1", "node-1").recordHistory().connect();
    node2 = SimulatedEnvoy.builder(channel, "envoy-node-2", "node-2").sotw().recordHistory().connect();
    await().atMost(CONVERGE).untilAsserted(() -> {
      // each pod's listener, and the internal listener of the HTTP port in the shared service layer
      assertThat(node1.names(LDS)).containsExactlyInAnyOrder("pod/shop/caller/outbound", WEB);
      assertThat(node2.names(LDS)).containsExactlyInAnyOrder("pod/shop/web-0/outbound", WEB);
      assertThat(node1.names(EDS)).contains(WEB);
      assertThat(node2.names(EDS)).contains(WEB);
    });
  }

  @AfterAll
  static void stop() throws Exception {
    convergence.printSummary();
    Teardown.closeAll(node1, node2, channel, plane, k8s);
  }

  @Test
  void aPodsListenerAppearsOnlyOnItsNodeOnceItHasAnIpAndLeavesWhenItIsDeletedWhileEndpointsMoveEverywhere()
      throws Exception {
    String scenario = "pod lifecycle";
    String listener = "pod/shop/web-1/outbound";
    String web0Listener = "pod/shop/web-0/outbound";
    var web0Content = node2.resources(LDS).get(web0Listener).resource();

    // scheduled, sandbox not up yet: no IP, nothing to configure
    String uid = k8s.pendingPod("shop", "web-1", "node-1", "web").getMetadata().getUid();
    await().atMost(CONVERGE).untilAsserted(() -> {
      JsonNode pod = plane.json("/debug/pods/shop/web-1");
      assertThat(pod.path("meshed").asBoolean()).isFalse();
      assertThat(pod.path("reason").asText()).contains("no pod IP yet");
    });
    assertThat(node1.names(LDS)).doesNotContain(listener);

    // the kubelet reports an IP: the listener reaches node-1, inside the pod's network namespace
    long running = System.nanoTime();
    k8s.podRunning("shop", "web-1", "10.1.1.11");
    await().atMost(CONVERGE).until(() -> node1.names(LDS).contains(listener));
    convergence.record(scenario, "pod IP assigned -> listener at its node (delta)", running,
        node1.resources(LDS).get(listener).arrivedNanos());
    Listener received = node1.unpack(LDS, listener, Listener.class);
    String netns = NETNS_TEMPLATE + uid;
    SocketAddress address = received.getAddress().getSocketAddress();
    assertThat(address.getAddress()).isEqualTo("0.0.0.0");
    assertThat(address.getPortValue()).isEqualTo(15001);
    assertThat(address.getNetworkNamespaceFilepath()).isEqualTo(netns);
    assertThat(received.getTrafficDirection()).isEqualTo(TrafficDirection.OUTBOUND);
    // one chain for every service: it names the pod's netns and picks dst/{ip}/{port} by original destination
    // (no --service-cidrs here, so it lists every ClusterIP)
    FilterChain services = chain(received, "services");
    assertThat(filterStateNetns(services)).contains(netns);
    assertThat(services.getFilterChainMatch().getPrefixRangesList())
        .anySatisfy(range -> assertThat(range.getAddressPrefix()).isEqualTo("10.96.0.10"));
    assertThat(filterStateNetns(received.getDefaultFilterChain())).contains(netns);
    // the HTTP port's way through the shared service layer: the destination cluster hops into its internal
    // listener, whose routes balance requests onto the shared cluster
    Cluster entry = node1.unpack(CDS, WEB_ENTRY, Cluster.class);
    assertThat(entry.getLoadAssignment().getEndpoints(0).getLbEndpoints(0).getEndpoint().getAddress()
        .getEnvoyInternalAddress().getServerListenerName()).isEqualTo(WEB);
    assertThat(httpConnectionManager(node1.unpack(LDS, WEB, Listener.class).getFilterChains(0)))
        .hasValueSatisfying(hcm -> assertThat(hcm.getRds().getRouteConfigName()).isEqualTo(WEB));
    // shared binding: the cluster binds the wildcard and takes the namespace from the connection
    Cluster cluster = node1.unpack(CDS, WEB, Cluster.class);
    assertThat(cluster.getUpstreamBindConfig().getSourceAddress().getAddress()).isEqualTo("0.0.0.0");
    assertThat(cluster.getUpstreamBindConfig().getSourceAddress().getPortValue()).isZero();
    assertThat(cluster.getUpstreamBindConfig().getLocalAddressSelector().getName())
        .isEqualTo("envoy.upstream.local_address_selector.filter_state_override");

    await().atMost(CONVERGE).untilAsserted(() -> {
      JsonNode pod = plane.json("/debug/pods/shop/web-1");
      assertThat(pod.path("meshed").asBoolean()).isTrue();
      assertThat(pod.path("node_name").asText()).isEqualTo("node-1");
      assertThat(pod.path("netns_path").asText()).isEqualTo(netns);
      assertThat(pod.path("listeners").get(0).asText()).isEqualTo(listener);
      assertThat(pod.path("acked").asBoolean()).isTrue();
      assertThat(pod.has("convergence_millis")).isTrue();
    });
    convergence.recordMillis(scenario, "pod IP assigned -> node ACK, as /debug/pods reports it (informer event ->"
        + " ACK)", plane.json("/debug/pods/shop/web-1").path("convergence_millis").asLong());
    assertThat(EnvoyResources.configNames(plane.json("/debug/nodes/node-1/config"), "listeners")).contains(listener);
    assertThat(EnvoyResources.configNames(plane.json("/debug/nodes/node-2/config"), "listeners"))
        .doesNotContain(listener);
    assertThat(node2.names(LDS)).doesNotContain(listener).contains(web0Listener);

    // ready: the slice controller adds it; both nodes' endpoints follow
    long ready = System.nanoTime();
    k8s.endpoints("shop", "web", "http", 8080,
        List.of(ready("10.1.2.10", "node-2"), ready("10.1.1.11", "node-1")));
    awaitEndpoints(WEB, List.of("10.1.1.11", "10.1.2.10"));
    recordEndpoints(scenario, "pod ready in slice -> endpoints", ready, WEB);

    // terminating: the slice marks it terminating, it leaves the endpoints; its listener stays while it
    // shuts down (it may still call out)
    long terminatingAt = System.nanoTime();
    k8s.terminatePod("shop", "web-1");
    k8s.endpoints("shop", "web", "http", 8080,
        List.of(ready("10.1.2.10", "node-2"), terminating("10.1.1.11", "node-1")));
    awaitEndpoints(WEB, List.of("10.1.2.10"));
    recordEndpoints(scenario, "pod terminating -> endpoints without it", terminatingAt, WEB);
    await().atMost(CONVERGE).untilAsserted(() ->
        assertThat(plane.json("/debug/pods/shop/web-1").path("meshed").asBoolean()).isTrue());
    assertThat(node1.names(LDS)).contains(listener);

    // deleted: the listener leaves node-1
    long deleted = System.nanoTime();
    k8s.deletePod("shop", "web-1");
    k8s.endpoints("shop", "web", "http", 8080, List.of(ready("10.1.2.10", "node-2")));
    await().atMost(CONVERGE).until(() -> !node1.names(LDS).contains(listener));
    convergence.record(scenario, "pod deleted -> listener removed at its node (delta)", deleted,
        node1.removedAt(LDS, listener).orElseThrow());
    await().atMost(CONVERGE).untilAsserted(() ->
        assertThat(plane.status("/debug/pods/shop/web-1")).isEqualTo(404));

    // node-2 never saw web-1's listener, and web-0's listener never changed
    assertThat(node2.history()).noneMatch(d -> d.name().equals(listener));
    assertThat(node2.resources(LDS).get(web0Listener).resource()).isEqualTo(web0Content);
    assertThat(node1.history()).noneMatch(d -> d.name().equals(web0Listener));
  }

  @Test
  void changingAServicePortsProtocolAndNumberRewritesTheServiceLayerOnEveryNode() throws Exception {
    String scenario = "service change";
    k8s.service("shop", "api", "10.96.0.20", List.of(servicePort("data", 7000, null)));
    k8s.endpoints("shop", "api", "data", 7000, List.of(ready("10.1.2.30", "node-2")));
    String shared = "svc/shop/api/7000";
    String entry = "dst/10.96.0.20/7000";
    // TCP: the destination cluster is the EDS cluster itself, round robin; no internal listener, no route
    for (SimulatedEnvoy envoy : List.of(node1, node2)) {
      await().atMost(CONVERGE).untilAsserted(() -> {
        assertThat(envoy.names(CDS)).contains(entry).doesNotContain(shared);
        assertThat(envoy.names(EDS)).contains(shared);
      });
    }
    Cluster tcpEntry = node1.unpack(CDS, entry, Cluster.class);
    assertThat(tcpEntry.getLbPolicy()).isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
    assertThat(tcpEntry.getEdsClusterConfig().getServiceName()).isEqualTo(shared);
    assertThat(node1.names(LDS)).doesNotContain(shared);
    assertThat(node1.names(RDS)).doesNotContain(shared);

    // appProtocol grpc: requests, not connections, are balanced: internal listener (HCM + RDS), LEAST_REQUEST,
    // HTTP/2 upstream
    long toGrpc = System.nanoTime();
    k8s.service("shop", "api", "10.96.0.20", List.of(servicePort("data", 7000, "grpc")));
    for (SimulatedEnvoy envoy : List.of(node1, node2)) {
      await().atMost(CONVERGE).untilAsserted(() -> {
        assertThat(envoy.unpack(CDS, shared, Cluster.class).getLbPolicy()).isEqualTo(Cluster.LbPolicy.LEAST_REQUEST);
        assertThat(envoy.names(LDS)).contains(shared);
        assertThat(envoy.names(RDS)).contains(shared);
        assertThat(envoy.unpack(CDS, entry, Cluster.class).getType()).isEqualTo(Cluster.DiscoveryType.STATIC);
      });
    }
    convergence.record(scenario, "appProtocol tcp->grpc -> cluster LEAST_REQUEST at node-1", toGrpc,
        node1.resources(CDS).get(shared).arrivedNanos());
    convergence.record(scenario, "appProtocol tcp->grpc -> cluster LEAST_REQUEST at node-2 (SotW)", toGrpc,
        node2.resources(CDS).get(shared).arrivedNanos());
    assertThat(httpConnectionManager(node1.unpack(LDS, shared, Listener.class).getFilterChains(0)))
        .hasValueSatisfying(hcm -> assertThat(hcm.getRds().getRouteConfigName()).isEqualTo(shared));
    assertThat(node1.unpack(CDS, shared, Cluster.class).getTypedExtensionProtocolOptionsMap())
        .containsKey("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    RouteConfiguration route = node1.unpack(RDS, shared, RouteConfiguration.class);
    assertThat(route.getVirtualHosts(0).getRoutes(0).getRoute().getCluster()).isEqualTo(shared);

    // the port number changes: a new service layer for 7100, endpoints of the target port; the old one goes
    long renumbered = System.nanoTime();
    String moved = "svc/shop/api/7100";
    String movedEntry = "dst/10.96.0.20/7100";
    k8s.service("shop", "api", "10.96.0.20", List.of(servicePort("data", 7100, 7000, "grpc")));
    for (SimulatedEnvoy envoy : List.of(node1, node2)) {
      await().atMost(CONVERGE).untilAsserted(() -> {
        assertThat(envoy.names(CDS)).contains(moved, movedEntry).doesNotContain(shared, entry);
        assertThat(envoy.names(LDS)).contains(moved).doesNotContain(shared);
        assertThat(envoy.names(RDS)).contains(moved).doesNotContain(shared);
        assertThat(endpointIps(envoy.unpack(EDS, moved, ClusterLoadAssignment.class))).containsExactly("10.1.2.30");
      });
    }
    convergence.record(scenario, "port 7000->7100 -> new cluster at node-1", renumbered,
        node1.resources(CDS).get(moved).arrivedNanos());
    assertThat(EnvoyResources.endpoints(node1.unpack(EDS, moved, ClusterLoadAssignment.class)))
        .containsExactly("10.1.2.30:7000"); // the target port, from the slice

    // back to plain TCP: the destination cluster is an EDS cluster again; listener and route go
    long toTcp = System.nanoTime();
    k8s.service("shop", "api", "10.96.0.20", List.of(servicePort("data", 7100, 7000, null)));
    for (SimulatedEnvoy envoy : List.of(node1, node2)) {
      await().atMost(CONVERGE).untilAsserted(() -> {
        assertThat(envoy.unpack(CDS, movedEntry, Cluster.class).getLbPolicy()).isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
        assertThat(envoy.names(LDS)).doesNotContain(moved);
        assertThat(envoy.names(RDS)).doesNotContain(moved);
        assertThat(envoy.names(CDS)).doesNotContain(moved);
      });
    }
    convergence.record(scenario, "appProtocol grpc->tcp -> cluster ROUND_ROBIN at node-1", toTcp,
        node1.resources(CDS).get(movedEntry).arrivedNanos());
    await().atMost(CONVERGE).untilAsserted(() ->
        assertThat(plane.json("/debug/nodes")).allSatisfy(n -> assertThat(n.path("state").asText())
            .isIn("SYNCED", "NO_CLIENT")));
  }

  @Test
  void flippingANamespacesMeshOptInAddsAndRemovesTheListenersOfItsPodsOnTheirNodeOnly() throws Exception {
    String scenario = "namespace opt-in";
    String listener = "pod/lab/probe/outbound";
    String optedOut = "pod/lab/opted-out/outbound";
    k8s.namespace("lab", false);
    k8s.pod("lab", "probe", "node-2", "10.1.2.40", "probe", Map.of(), Map.of());
    k8s.pod("lab", "opted-out", "node-2", "10.1.2.41", "probe", Map.of("nodemesh.io/mesh", "disabled"), Map.of());
    await().atMost(CONVERGE).untilAsserted(() -> assertThat(plane.json("/debug/pods/lab/probe").path("reason").asText())
        .contains("not opted in"));
    assertThat(node2.names(LDS)).doesNotContain(listener);

    long on = System.nanoTime();
    k8s.namespace("lab", true);
    await().atMost(CONVERGE).until(() -> node2.names(LDS).contains(listener));
    convergence.record(scenario, "namespace labelled -> listener at its node (SotW)", on,
        node2.resources(LDS).get(listener).arrivedNanos());
    await().atMost(CONVERGE).untilAsserted(() -> {
      JsonNode probe = plane.json("/debug/pods/lab/probe");
      assertThat(probe.path("meshed").asBoolean()).isTrue();
      assertThat(probe.path("acked").asBoolean()).isTrue();
      assertThat(plane.json("/debug/pods/lab/opted-out").path("reason").asText()).contains("opted out");
    });
    assertThat(node2.names(LDS)).doesNotContain(optedOut);

    long off = System.nanoTime();
    k8s.namespace("lab", false);
    await().atMost(CONVERGE).until(() -> !node2.names(LDS).contains(listener));
    convergence.record(scenario, "namespace unlabelled -> listener removed (SotW)", off,
        node2.removedAt(LDS, listener).orElseThrow());
    assertThat(plane.json("/debug/pods/lab/probe").path("meshed").asBoolean()).isFalse();
    assertThat(node1.history()).noneMatch(d -> d.name().startsWith("pod/lab/"));
  }

  @Test
  void aClientThatNacksIsShownNackedIsNotResentTheSameContentAndTakesTheFix() throws Exception {
    String scenario = "NACK";
    String flaky = "svc/shop/flaky/9000";
    String message = "lb_policy LEAST_REQUEST is not supported by this Envoy build";
    // a canary Envoy of node-1 that rejects flaky's cluster while it asks for LEAST_REQUEST
    SimulatedEnvoy.Rejecter rejecter = (type, any) -> {
      if (type.equals(CDS) && any.is(Cluster.class)) {
        Cluster cluster = EnvoyResources.unpack(any, Cluster.class);
        if (cluster.getName().equals(flaky) && cluster.getLbPolicy() == Cluster.LbPolicy.LEAST_REQUEST) {
          return message;
        }
      }
      return null;
    };
    try (SimulatedEnvoy canary = SimulatedEnvoy.builder(channel, "envoy-node-1-canary", "node-1")
        .rejecter(rejecter).connect()) {
      await().atMost(CONVERGE).untilAsserted(() ->
          assertThat(syncType(syncClient(plane.json("/debug/syncz"), "envoy-node-1-canary"), CDS)
              .path("state").asText()).isEqualTo("SYNCED"));

      k8s.service("shop", "flaky", "10.96.0.30", List.of(servicePort("grpc", 9000, "grpc")));
      await().atMost(CONVERGE).untilAsserted(() -> {
        JsonNode cds = syncType(syncClient(plane.json("/debug/syncz"), "envoy-node-1-canary"), CDS);
        assertThat(cds.path("state").asText()).isEqualTo("NACKED");
        assertThat(cds.path("nack_error").asText()).isEqualTo(message);
      });
      assertThat(canary.lastNack(CDS)).isEqualTo(message);
      assertThat(canary.names(CDS)).doesNotContain(flaky);
      // the healthy Envoy of the same node took it, and the node shows the canary's NACK
      await().atMost(CONVERGE).until(() -> node1.names(CDS).contains(flaky));
      assertThat(EnvoyResources.node(plane.json("/debug/nodes"), "node-1").path("state").asText()).isEqualTo("NACKED");
      assertThat(plane.text("/metrics")).containsPattern("nodemesh_xds_nacks_total\\{[^}]*\\} [1-9]");

      // parked: the rejected content is not pushed again and again
      int responses = canary.responses(CDS);
      await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
          .until(() -> canary.responses(CDS) == responses);

      // the fix (plain TCP, ROUND_ROBIN): the port's destination cluster becomes the EDS cluster itself and the
      // rejected shared cluster goes; the canary takes it and ACKs
      long fixed = System.nanoTime();
      String flakyEntry = "dst/10.96.0.30/9000";
      k8s.service("shop", "flaky", "10.96.0.30", List.of(servicePort("grpc", 9000, "tcp")));
      await().atMost(CONVERGE).until(() -> canary.names(CDS).contains(flakyEntry)
          && canary.unpack(CDS, flakyEntry, Cluster.class).getType() == Cluster.DiscoveryType.EDS);
      convergence.record(scenario, "fix written -> NACKing client takes it", fixed,
          canary.resources(CDS).get(flakyEntry).arrivedNanos());
      assertThat(canary.unpack(CDS, flakyEntry, Cluster.class).getLbPolicy())
          .isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
      assertThat(canary.names(CDS)).doesNotContain(flaky);
      await().atMost(CONVERGE).untilAsserted(() -> {
        JsonNode cds = syncType(syncClient(plane.json("/debug/syncz"), "envoy-node-1-canary"), CDS);
        assertThat(cds.path("state").asText()).isEqualTo("SYNCED");
        assertThat(cds.path("acked_version").asText()).isEqualTo(cds.path("sent_version").asText());
      });
    }
  }

  private static void awaitEndpoints(String name, List<String> ips) {
    for (SimulatedEnvoy envoy : List.of(node1, node2)) {
      await().atMost(CONVERGE).untilAsserted(() ->
          assertThat(endpointIps(envoy.unpack(EDS, name, ClusterLoadAssignment.class))).isEqualTo(ips));
    }
  }

  private static void recordEndpoints(String scenario, String what, long start, String name) {
    convergence.record(scenario, what + " at node-1 (delta)", start, node1.resources(EDS).get(name).arrivedNanos());
    convergence.record(scenario, what + " at node-2 (SotW)", start, node2.resources(EDS).get(name).arrivedNanos());
  }
}
