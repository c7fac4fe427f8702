package io.nodemesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.nodemesh.app.Settings;
import io.nodemesh.flags.Flag;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The control plane jar as a user runs it: demo mode, a real (mock) API server, flags, signals. */
class ControlPlaneAppIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);

  private static ManagedChannel channel(ControlPlaneProcess process) {
    return NettyChannelBuilder.forAddress("127.0.0.1", process.xdsPort()).usePlaintext().build();
  }

  @Test
  void demoModeServesEveryAdminEndpointAndANodeEnvoyGetsSynced() throws Exception {
    try (ControlPlaneProcess demo = ControlPlaneProcess.startDemo("demo").awaitReady(STARTUP)) {
      JsonNode index = demo.json("/debug");
      for (String endpoint : List.of("/healthz", "/readyz", "/debug/config", "/debug/state", "/debug/syncz",
          "/debug/nodes", "/debug/nodes/{node}/config", "/debug/pods/{namespace}/{name}", "/metrics")) {
        assertThat(index.has(endpoint)).as("GET /debug lists %s", endpoint).isTrue();
        assertThat(index.get(endpoint).asText()).isNotBlank();
      }
      assertThat(demo.json("/healthz").get("status").asText()).isEqualTo("ok");
      assertThat(demo.json("/readyz").get("ready").asBoolean()).isTrue();

      List<String> flags = new ArrayList<>();
      demo.json("/debug/config").get("settings").forEach(s -> flags.add(s.get("name").asText()));
      assertThat(flags).containsExactlyElementsOf(Settings.ALL.stream().map(Flag::name).toList());

      JsonNode state = demo.json("/debug/state");
      assertThat(state.at("/model/nodes").asInt()).isEqualTo(3);
      assertThat(state.at("/model/services").asInt()).isEqualTo(6);
      assertThat(state.at("/model/meshed_pods").asInt()).isGreaterThanOrEqualTo(15);
      assertThat(state.at("/watchers/synced").asBoolean()).isTrue();

      JsonNode nodes = demo.json("/debug/nodes");
      assertThat(nodes).hasSize(3);
      nodes.forEach(node -> assertThat(node.get("listeners").asInt()).isPositive());

      ManagedChannel channel = channel(demo);
      try (SimulatedEnvoy envoy = SimulatedEnvoy.delta(channel, "envoy-node-a", "node-a")) {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
          JsonNode node = find(demo.json("/debug/nodes"), "node-a");
          // ours and the demo's own simulated Envoy of node-a
          assertThat(node.get("clients").asInt()).isEqualTo(2);
          assertThat(node.get("state").asText()).isEqualTo("SYNCED");
        });
        JsonNode client = null;
        for (JsonNode candidate : demo.json("/debug/syncz").get("clients")) {
          if (candidate.get("node_id").asText().equals("envoy-node-a")) {
            client = candidate;
          }
        }
        assertThat(client).as("our client in /debug/syncz").isNotNull();
        assertThat(client.get("node_id").asText()).isEqualTo("envoy-node-a");
        assertThat(client.get("node_name").asText()).isEqualTo("node-a");
        assertThat(client.get("kind").asText()).isEqualTo("envoy");
        assertThat(client.get("protocol").asText()).isEqualTo("delta");
        System.out.println("[syncz] " + demo.text("/debug/syncz"));

        JsonNode config = demo.json("/debug/nodes/node-a/config");
        List<String> configListeners = EnvoyResources.configNames(config, "listeners");
        assertThat(configListeners).hasSize(envoy.names(SimulatedEnvoy.LDS).size());
        String podListener = configListeners.get(0);
        String[] parts = podListener.split("/"); // pod/{ns}/{name}/outbound
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
          JsonNode pod = demo.json("/debug/pods/" + parts[1] + "/" + parts[2]);
          assertThat(pod.get("meshed").asBoolean()).isTrue();
          assertThat(pod.get("listeners").get(0).asText()).isEqualTo(podListener);
          assertThat(pod.get("acked").asBoolean()).isTrue();
        });
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }

      String metrics = demo.text("/metrics");
      assertThat(metrics).contains("nodemesh_xds_connected_clients", "nodemesh_xds_pushes_total",
          "nodemesh_convergence_seconds_bucket", "nodemesh_translation_seconds", "nodemesh_informer_events_total",
          "nodemesh_debounce_batch_nodes", "nodemesh_xds_nacks_total");

      assertThat(demo.status("/debug/pods/demo/no-such-pod")).isEqualTo(404);
      assertThat(demo.json("/debug/pods/demo/no-such-pod").get("error").asText()).contains("unknown pod");
      assertThat(demo.status("/debug/nodes/no-such-node/config")).isEqualTo(404);
      assertThat(demo.status("/nope")).isEqualTo(404);
      // the admin port (the one the chart's Service exposes) serves probes and metrics, never the debug endpoints
      for (String debugOnly : List.of("/debug", "/debug/nodes", "/debug/nodes/node-a/config", "/debug/syncz")) {
        assertThat(demo.send(demo.adminPort(), debugOnly).statusCode()).as("%s on the admin port", debugOnly)
            .isEqualTo(404);
      }
      assertThat(demo.output()).anySatisfy(line -> assertThat(line).contains("debug endpoint listening on 127.0.0.1:"));
    }
  }

  @Test
  void aPodCreatedThroughTheApiShowsUpAckedOnceItsNodesEnvoyAcks() throws Exception {
    try (MockKubernetes k8s = MockKubernetes.start()) {
      k8s.namespace("shop", true);
      k8s.node("node-1", "zone-a");
      k8s.service("shop", "cart", "10.96.0.20", "http", 8080, null);
      try (ControlPlaneProcess plane = ControlPlaneProcess.start("plane", k8s.url()).awaitReady(STARTUP)) {
        ManagedChannel channel = channel(plane);
        try (SimulatedEnvoy envoy = SimulatedEnvoy.delta(channel, "envoy-abc12", "node-1")) {
          await().atMost(Duration.ofSeconds(20)).until(() -> envoy.responses(SimulatedEnvoy.CDS) > 0);
          JsonNode before = plane.json("/debug/pods/shop/client");
          assertThat(before.get("error").asText()).contains("unknown pod");

          long created = System.nanoTime();
          String uid = k8s.pod("shop", "client", "node-1", "10.1.0.7", "client").getMetadata().getUid();
          await().atMost(Duration.ofSeconds(20))
              .until(() -> envoy.names(SimulatedEnvoy.LDS).contains("pod/shop/client/outbound"));
          System.out.printf("[convergence] pod create -> listener at its node's Envoy: %d ms%n",
              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - created));
          assertThat(envoy.names(SimulatedEnvoy.CDS)).contains("svc/shop/cart/8080", "passthrough", "blackhole");
          // the route follows the listener: the client subscribes to it by name once the listener arrived
          await().atMost(Duration.ofSeconds(20))
              .untilAsserted(() -> assertThat(envoy.names(SimulatedEnvoy.RDS)).contains("svc/shop/cart/8080"));

          await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode pod = plane.json("/debug/pods/shop/client");
            assertThat(pod.get("meshed").asBoolean()).isTrue();
            assertThat(pod.get("netns_path").asText())
                .isEqualTo("/var/run/nodemesh/netns/" + uid);
            assertThat(pod.get("acked").asBoolean()).isTrue();
            assertThat(pod.has("convergence_millis")).isTrue();
          });
          System.out.println("[pod] " + plane.text("/debug/pods/shop/client"));
          // the pod was created after the stream's first ACKs, so its resources' ACKs are convergence samples
          assertThat(plane.text("/metrics"))
              .containsPattern("nodemesh_convergence_seconds_count\\{type=\"[A-Z]+\"} [1-9]");
        } finally {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }

  @Test
  void aLostApiServerKeepsTheLastGoodConfigServedAndShowsTheOutage() throws Exception {
    MockKubernetes k8s = MockKubernetes.start();
    k8s.namespace("shop", true);
    k8s.node("node-1", "zone-a");
    k8s.pod("shop", "client", "node-1", "10.1.0.7", "client");
    try (ControlPlaneProcess plane = ControlPlaneProcess.start("outage", k8s.url()).awaitReady(STARTUP)) {
      ManagedChannel channel = channel(plane);
      try (SimulatedEnvoy envoy = SimulatedEnvoy.delta(channel, "envoy-1", "node-1")) {
        await().atMost(Duration.ofSeconds(20))
            .until(() -> envoy.names(SimulatedEnvoy.LDS).contains("pod/shop/client/outbound"));
        k8s.close();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
          JsonNode ready = plane.json("/readyz");
          assertThat(ready.get("api_server").asText()).startsWith("unreachable");
          assertThat(plane.json("/debug/state").at("/watchers/api_server_reachable").asBoolean()).isFalse();
        });
        assertThat(plane.status("/readyz")).isEqualTo(200);
        assertThat(EnvoyResources.configNames(plane.json("/debug/nodes/node-1/config"), "listeners")).hasSize(1);
        assertThat(envoy.names(SimulatedEnvoy.LDS)).contains("pod/shop/client/outbound");
        assertThat(envoy.error()).isNull();
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void withoutAReachableApiServerReadyzSaysThereIsNoConfigYet() throws Exception {
    try (ControlPlaneProcess plane = ControlPlaneProcess.start("no-api", unreachableApiUrl())) {
      await().atMost(STARTUP).ignoreExceptions().untilAsserted(() ->
          assertThat(plane.json("/readyz").path("api_server").asText())
              .startsWith("unreachable and never synced: there is no config to serve yet"));
      assertThat(plane.status("/readyz")).isEqualTo(503);
    }
  }

  @Test
  void aPortInUseEndsTheProcessWithOneLineNamingThePortAndItsFlag() throws Exception {
    try (ServerSocket taken = new ServerSocket(0)) {
      int port = taken.getLocalPort();
      try (ControlPlaneProcess admin = ControlPlaneProcess.startDemo("admin-port-in-use",
          "--admin-port=" + port)) {
        assertThat(admin.awaitExit(STARTUP)).isEqualTo(2);
        assertThat(admin.output()).anySatisfy(line -> assertThat(line).startsWith("nodemesh: probe port ")
            .contains(":" + port + " could not be opened").endsWith("(--admin-port)"));
        assertThat(admin.output()).noneMatch(line -> line.startsWith("\tat "));
      }
      try (ControlPlaneProcess xds = ControlPlaneProcess.startDemo("xds-port-in-use",
          "--xds-port=" + port)) {
        assertThat(xds.awaitExit(STARTUP)).isEqualTo(2);
        assertThat(xds.output()).anySatisfy(line -> assertThat(line)
            .startsWith("nodemesh: the xDS port " + port + " could not be opened (--xds-port)"));
        assertThat(xds.output()).noneMatch(line -> line.startsWith("\tat "));
      }
    }
  }

  @Test
  void sigtermStopsTheProcessCleanlyWithExitCodeZero() throws Exception {
    try (MockKubernetes k8s = MockKubernetes.start();
        ControlPlaneProcess plane = ControlPlaneProcess.start("sigterm", k8s.url()).awaitReady(STARTUP)) {
      assertThat(plane.terminate(Duration.ofSeconds(20))).isZero();
      assertThat(plane.output()).anyMatch(line -> line.contains("shut down"));
    }
  }

  @Test
  void sigtermDuringStartupWhileTheApiServerCannotBeReachedStopsTheProcessWithExitCodeZero() throws Exception {
    String api = unreachableApiUrl();
    try (ControlPlaneProcess plane = ControlPlaneProcess.start("sigterm-startup", api)) {
      await().atMost(STARTUP).until(() -> plane.output().stream()
          .anyMatch(line -> line.contains("informer list/watch failed")));
      assertThat(plane.terminate(Duration.ofSeconds(20))).isZero();
      assertThat(plane.output()).anyMatch(line -> line.contains("Kubernetes API: " + api))
          .anyMatch(line -> line.contains("shut down"))
          .noneMatch(line -> line.startsWith("\tat "));
    }
  }

  @Test
  void sigtermDuringChurnStopsTheProcessWithExitCodeZeroAndNoStackTrace() throws Exception {
    // the demo: its API server, controllers, churn and simulated Envoys all run inside the process, so they are
    // all busy when the signal comes, and none of their threads may keep the JVM alive
    try (ControlPlaneProcess demo = ControlPlaneProcess.startDemo("sigterm-churn").awaitReady(STARTUP)) {
      String api = await().atMost(STARTUP).until(() -> demo.output().stream()
          .map(line -> line.replaceFirst(".*embedded Kubernetes API : (\\S+).*", "$1"))
          .filter(line -> line.startsWith("http://")).findFirst().orElse(null), url -> url != null);
      AtomicBoolean churning = new AtomicBoolean(true);
      AtomicInteger changes = new AtomicInteger();
      try (KubernetesClient client = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
          .withMasterUrl(api).withRequestTimeout(5_000).withRequestRetryBackoffLimit(0).build()).build()) {
        Thread churn = new Thread(() -> {
          for (int i = 0; churning.get(); i++) {
            try {
              client.pods().inNamespace("demo").resource(new PodBuilder().withNewMetadata().withName("churn-" + i)
                  .addToLabels("app", "frontend").endMetadata().withNewSpec().addNewContainer().withName("app")
                  .withImage("app").endContainer().endSpec().build()).create();
              if (i >= 5) {
                client.pods().inNamespace("demo").withName("churn-" + (i - 5)).delete();
              }
              changes.incrementAndGet();
            } catch (RuntimeException stopped) {
              // the API server is part of the process being stopped
            }
          }
        }, "sigterm-churn");
        churn.start();
        try {
          await().atMost(Duration.ofSeconds(30)).until(() -> changes.get() >= 50
              && demo.json("/debug/pods?namespace=demo").toString().contains("churn-"));
          long sent = System.nanoTime();
          int exitCode = demo.terminate(Duration.ofSeconds(20));
          System.out.printf("[sigterm] exit %d after %d ms, %d API changes made%n", exitCode,
              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent), changes.get());
          assertThat(exitCode).isZero();
        } finally {
          churning.set(false);
          churn.join(30_000);
        }
      }
      assertThat(demo.output()).anyMatch(line -> line.contains("shut down"))
          .noneMatch(line -> line.startsWith("\tat "));
    }
  }

  @Test
  void unknownFlagsAndInvalidValuesFailFastNamingTheFlag() throws Exception {
    assertThat(run("--bogus=1")).startsWith("2:").contains("unknown flag --bogus");
    assertThat(run("--upstream-binding=sideways")).startsWith("2:")
        .contains("--upstream-binding").contains("shared, per-pod");
    assertThat(run("--xds-port=70000")).startsWith("2:").contains("--xds-port").contains("0-65535");
    assertThat(run("--debounce-quiet=soon")).startsWith("2:").contains("--debounce-quiet").contains("duration");
    assertThat(run("--help")).startsWith("0:").contains("--upstream-binding", "NODEMESH_XDS_PORT");
  }

  /** An API server address where nothing listens: a port that was free a moment ago. */
  private static String unreachableApiUrl() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return "http://127.0.0.1:" + socket.getLocalPort();
    }
  }

  private static String run(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        ControlPlaneProcess.jar().toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return process.exitValue() + ":" + output;
  }

  private static JsonNode find(JsonNode nodes, String name) {
    for (JsonNode node : nodes) {
      if (node.get("name").asText().equals(name)) {
        return node;
      }
    }
    throw new AssertionError("no node " + name + " in " + nodes);
  }
}
