package io.nodemesh.e2e;

import static io.nodemesh.e2e.EnvoyResources.syncClient;
import static io.nodemesh.e2e.MockKubernetes.ready;
import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static io.nodemesh.testkit.SimulatedEnvoy.CDS;
import static io.nodemesh.testkit.SimulatedEnvoy.EDS;
import static io.nodemesh.testkit.SimulatedEnvoy.LDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.grpc.ManagedChannel;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile or extreme input through the API, with netns paths from pod annotations and per-pod upstream
 * binding (the modes where a pod's own data ends up in Envoy's socket calls): each case is contained to the
 * object that carries it. Well-behaved pods on both nodes ({@code good-1}, {@code good-2}) keep exactly the
 * resources they had — same versions, nothing resent.
 */
class HostileInputIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(30);
  private static final String UPSTREAMS = "nodemesh.io/upstreams";
  private static final String NETNS = "nodemesh.io/netns";
  private static final int WIDE_PORTS = 1000;

  private static final ConvergenceLog convergence = new ConvergenceLog("HostileInputIT");
  private static MockKubernetes k8s;
  private static ControlPlaneProcess plane;
  private static ManagedChannel channel;
  private static SimulatedEnvoy node1;
  private static SimulatedEnvoy node2;

  @BeforeAll
  static void start() throws Exception {
    k8s = MockKubernetes.withTwoNodes("shop");
    k8s.service("shop", "web", "10.96.0.10", List.of(servicePort("tcp", 8080, null)));
    k8s.endpoints("shop", "web", "tcp", 8080, List.of(ready("10.1.2.80", "node-2")));
    goodPod("good-1", "node-1", "10.1.1.1");
    goodPod("good-2", "node-2", "10.1.2.1");
    plane = ControlPlaneProcess.start("hostile", k8s.url(), "--netns-mode=annotation", "--upstream-binding=per-pod")
        .awaitReady(STARTUP);
    channel = plane.xdsChannel();
    node1 = SimulatedEnvoy.builder(channel, "envoy-node-1", "node-1").recordHistory().connect();
    node2 = SimulatedEnvoy.builder(channel, "envoy-node-2", "node-2").recordHistory().connect();
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertThat(node1.names(LDS)).containsExactly("pod/shop/good-1/outbound");
      assertThat(node2.names(LDS)).containsExactly("pod/shop/good-2/outbound");
      assertThat(node1.names(EDS)).containsExactly("svc/shop/web/8080");
    });
    // per-pod binding: the pod's cluster leaves from the pod's IP inside the annotated namespace
    Cluster cluster = node1.unpack(CDS, "pod/shop/good-1/svc/shop/web/8080", Cluster.class);
    SocketAddress source = cluster.getUpstreamBindConfig().getSourceAddress();
    assertThat(source.getAddress()).isEqualTo("10.1.1.1");
    assertThat(source.getPortValue()).isZero();
    assertThat(source.getNetworkNamespaceFilepath()).isEqualTo("/var/run/netns/cni-good-1");
    assertThat(node1.unpack(LDS, "pod/shop/good-1/outbound", Listener.class).getAddress().getSocketAddress()
        .getNetworkNamespaceFilepath()).isEqualTo("/var/run/netns/cni-good-1");
  }

  @AfterAll
  static void stop() throws Exception {
    convergence.printSummary();
    Teardown.closeAll(node1, node2, channel, plane, k8s);
  }

  private static void goodPod(String name, String node, String ip) {
    k8s.pod("shop", name, node, ip, "good", Map.of(),
        Map.of(NETNS, "/var/run/netns/cni-" + name, UPSTREAMS, "web.shop"));
  }

  /** What the well-behaved pods' nodes hold now, to compare after the hostile input. */
  private record Baseline(Map<String, Map<String, String>> held1, Map<String, Map<String, String>> held2,
      int node1Deliveries, int node2Deliveries) {
    static Baseline take() {
      return new Baseline(node1.versions(), node2.versions(), node1.history().size(), node2.history().size());
    }

    /** Nothing the good pods had changed, and none of it was sent again. */
    void assertGoodPodsUntouched() {
      for (String good : List.of("pod/shop/good-1/outbound", "pod/shop/good-1/svc/shop/web/8080",
          "pod/shop/good-1/passthrough")) {
        String type = good.endsWith("/outbound") ? LDS : CDS;
        assertThat(node1.versions().get(type).get(good)).as(good).isEqualTo(held1.get(type).get(good));
      }
      for (String good : List.of("pod/shop/good-2/outbound", "pod/shop/good-2/svc/shop/web/8080")) {
        String type = good.endsWith("/outbound") ? LDS : CDS;
        assertThat(node2.versions().get(type).get(good)).as(good).isEqualTo(held2.get(type).get(good));
      }
      assertThat(node1.versions().get(EDS)).isEqualTo(held1.get(EDS));
      assertThat(node1.history().subList(node1Deliveries, node1.history().size()))
          .noneMatch(d -> d.name().contains("good-") || d.name().equals("svc/shop/web/8080"));
      assertThat(node2.history().subList(node2Deliveries, node2.history().size()))
          .noneMatch(d -> d.name().contains("good-") || d.name().equals("svc/shop/web/8080"));
    }
  }

  /** A well-behaved pod created after the hostile input: once its listener is at the node, the input was processed. */
  private static void barrier(String name, String node, String ip, SimulatedEnvoy envoy) {
    goodPod(name, node, ip);
    await().atMost(CONVERGE).until(() -> envoy.names(LDS).contains("pod/shop/" + name + "/outbound"));
  }

  @Test
  void podsWithNetnsAnnotationsOutsideTheAllowedPrefixGetNoListenerAreReportedAndLeaveOtherPodsAlone()
      throws Exception {
    Baseline baseline = Baseline.take();
    Map<String, String> hostile = new LinkedHashMap<>();
    hostile.put("escape", "/var/run/netns/../../../proc/1/ns/net");
    hostile.put("outside", "/proc/1/ns/net");
    hostile.put("sibling", "/var/run/netns-evil/cni-1");
    hostile.put("newline", "/var/run/netns/cni-1\n/proc/1/ns/net");
    hostile.put("format", "/var/run/netns/%DOWNSTREAM_REMOTE_ADDRESS%");
    hostile.put("long", "/var/run/netns/" + "x".repeat(5000));
    hostile.put("prefix-only", "/var/run/netns/");
    Map<String, String> reasons = Map.of(
        "escape", "not normalized",
        "outside", "not under the allowed prefix",
        "sibling", "not under the allowed prefix",
        "newline", "[A-Za-z0-9._/-]",
        "format", "[A-Za-z0-9._/-]",
        "long", "longer than 256",
        "prefix-only", "names a directory");
    int ip = 100;
    for (Map.Entry<String, String> entry : hostile.entrySet()) {
      k8s.pod("shop", "evil-" + entry.getKey(), "node-1", "10.1.1." + ip++, "evil", Map.of(),
          Map.of(NETNS, entry.getValue(), UPSTREAMS, "web.shop"));
    }
    k8s.pod("shop", "evil-missing", "node-1", "10.1.1." + ip, "evil", Map.of(), Map.of(UPSTREAMS, "web.shop"));
    barrier("after-netns", "node-1", "10.1.1.2", node1);

    for (Map.Entry<String, String> entry : reasons.entrySet()) {
      JsonNode pod = plane.json("/debug/pods/shop/evil-" + entry.getKey());
      assertThat(pod.path("meshed").asBoolean()).as(entry.getKey()).isFalse();
      assertThat(pod.path("reason").asText()).as(entry.getKey()).contains("nodemesh.io/netns rejected")
          .contains(entry.getValue());
      assertThat(pod.path("netns_path").asText()).isEmpty();
    }
    assertThat(plane.json("/debug/pods/shop/evil-missing").path("reason").asText())
        .contains("no nodemesh.io/netns annotation");
    assertThat(node1.names(LDS)).noneMatch(name -> name.contains("evil"));
    assertThat(node1.names(CDS)).noneMatch(name -> name.contains("evil"));
    assertThat(node1.history()).noneMatch(d -> d.name().contains("evil"));
    assertThat(EnvoyResources.configNames(plane.json("/debug/nodes/node-1/config"), "listeners"))
        .noneMatch(name -> name.contains("evil"));
    JsonNode node = EnvoyResources.node(plane.json("/debug/nodes"), "node-1");
    assertThat(node.path("pods").asInt() - node.path("meshed_pods").asInt()).isEqualTo(hostile.size() + 1);
    baseline.assertGoodPodsUntouched();
  }

  @Test
  void aServiceWithAThousandPortsReachesThePodThatCallsItWithoutTouchingOtherPods() throws Exception {
    String caller = "pod/shop/wide-caller/outbound";
    k8s.pod("shop", "wide-caller", "node-2", "10.1.2.90", "caller", Map.of(),
        Map.of(NETNS, "/var/run/netns/cni-wide-caller", UPSTREAMS, "wide.shop"));
    await().atMost(CONVERGE).until(() -> node2.names(LDS).contains(caller));
    Baseline baseline = Baseline.take();

    List<io.fabric8.kubernetes.api.model.ServicePort> ports = new ArrayList<>();
    for (int i = 0; i < WIDE_PORTS; i++) {
      ports.add(servicePort("p-" + i, 20000 + i, null));
    }
    long written = System.nanoTime();
    k8s.service("shop", "wide", "10.96.0.99", ports);
    await().atMost(CONVERGE).untilAsserted(() ->
        assertThat(node2.unpack(LDS, caller, Listener.class).getFilterChainsCount()).isEqualTo(WIDE_PORTS + 1));
    convergence.record("hostile", "service with 1,000 ports -> caller's listener (1,001 chains)", written,
        node2.resources(LDS).get(caller).arrivedNanos());
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertThat(node2.names(CDS).stream().filter(n -> n.startsWith("pod/shop/wide-caller/svc/shop/wide/")))
          .hasSize(WIDE_PORTS);
      assertThat(node2.names(EDS).stream().filter(n -> n.startsWith("svc/shop/wide/"))).hasSize(WIDE_PORTS);
      JsonNode client = syncClient(plane.json("/debug/syncz"), "envoy-node-2");
      assertThat(client.path("types")).allSatisfy(t -> assertThat(t.path("state").asText()).isEqualTo("SYNCED"));
    });
    long lastCluster = node2.history().stream().filter(d -> d.typeUrl().equals(CDS))
        .mapToLong(SimulatedEnvoy.Delivery::nanos).max().orElseThrow();
    convergence.record("hostile", "service with 1,000 ports -> 1,000 per-pod clusters", written, lastCluster);
    Cluster sample = node2.unpack(CDS, "pod/shop/wide-caller/svc/shop/wide/20999", Cluster.class);
    assertThat(sample.getEdsClusterConfig().getServiceName()).isEqualTo("svc/shop/wide/20999");
    assertThat(sample.getUpstreamBindConfig().getSourceAddress().getNetworkNamespaceFilepath())
        .isEqualTo("/var/run/netns/cni-wide-caller");
    JsonNode state = plane.json("/debug/state");
    assertThat(state.path("translation_problems").toString()).doesNotContain("wide");
    // node-1 has no caller of wide: nothing of it reaches node-1
    assertThat(node1.names(CDS)).noneMatch(name -> name.contains("wide"));
    baseline.assertGoodPodsUntouched();

    // and it goes away as a whole
    long deleted = System.nanoTime();
    k8s.client().services().inNamespace("shop").withName("wide").delete();
    await().atMost(CONVERGE).untilAsserted(() -> {
      assertThat(node2.names(CDS)).noneMatch(name -> name.contains("/wide/"));
      assertThat(node2.unpack(LDS, caller, Listener.class).getFilterChainsCount()).isEqualTo(1);
    });
    convergence.record("hostile", "service with 1,000 ports deleted -> caller's listener back to 1 chain", deleted,
        node2.resources(LDS).get(caller).arrivedNanos());
    baseline.assertGoodPodsUntouched();
  }

  @Test
  void aPodNameAtTheLengthLimitIsMeshedAndALongerOneIsRejectedWithoutTouchingOtherPods() throws Exception {
    Baseline baseline = Baseline.take();
    // 253 characters: the DNS-1123 subdomain limit for pod names
    String longest = "a".repeat(60) + "." + "b".repeat(60) + "." + "c".repeat(60) + "." + "d".repeat(60) + "."
        + "e".repeat(9);
    assertThat(longest).hasSize(253);
    String tooLong = longest + "f";
    k8s.pod("shop", longest, "node-1", "10.1.1.50", "long", Map.of(),
        Map.of(NETNS, "/var/run/netns/cni-longest", UPSTREAMS, "web.shop"));
    k8s.pod("shop", tooLong, "node-1", "10.1.1.51", "long", Map.of(),
        Map.of(NETNS, "/var/run/netns/cni-too-long", UPSTREAMS, "web.shop"));
    barrier("after-names", "node-1", "10.1.1.3", node1);

    String listener = "pod/shop/" + longest + "/outbound";
    assertThat(node1.names(LDS)).contains(listener);
    assertThat(node1.unpack(LDS, listener, Listener.class).getAddress().getSocketAddress()
        .getNetworkNamespaceFilepath()).isEqualTo("/var/run/netns/cni-longest");
    Cluster cluster = node1.unpack(CDS, "pod/shop/" + longest + "/svc/shop/web/8080", Cluster.class);
    assertThat(cluster.getUpstreamBindConfig().getSourceAddress().getAddress()).isEqualTo("10.1.1.50");
    await().atMost(CONVERGE).untilAsserted(() ->
        assertThat(plane.json("/debug/pods/shop/" + longest).path("acked").asBoolean()).isTrue());

    assertThat(node1.names(LDS)).noneMatch(name -> name.contains(tooLong));
    assertThat(node1.history()).noneMatch(d -> d.name().contains(tooLong));
    JsonNode problems = plane.json("/debug/state").path("input_problems");
    assertThat(problems.toString()).contains("DNS-1123 subdomain");
    System.out.println("[hostile] input problems: " + problems);
    baseline.assertGoodPodsUntouched();
  }
}
