package io.nodemesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image the chart installs, built by {@code images/build} from this build's jar and run for real with podman
 * (issue 17): the control plane in the container watches an API server on the host and serves an Envoy there
 * ({@code /readyz}, the pod's listener, {@code /debug/syncz}), the default command prints the usage, the image runs
 * as 65532, and the node agent runs from the same image and finds its tools there.
 * Needs root, podman, runc and mmdebstrap ({@code .ci/run} installs them); skipped with the reason otherwise.
 */
class ContainerImageIT {

  private static final Path ROOT = Paths.get("..").toAbsolutePath().normalize();
  private static String image;

  @BeforeAll
  static void build() throws Exception {
    Optional<String> missing = unavailableReason();
    Assumptions.assumeTrue(missing.isEmpty(), () -> "container image tests skipped: " + missing.orElse(""));
    Result built = run(Duration.ofMinutes(20), ROOT.resolve("images/build").toString(), "--jar",
        ControlPlaneProcess.jar().toAbsolutePath().toString(), "--agent-jar", agentJar());
    System.out.println("images/build:\n" + built.output());
    assertThat(built.exitCode()).as(built.output()).isZero();
    image = built.output().lines().filter(line -> line.startsWith("image ")).map(line -> line.substring(6))
        .findFirst().orElseThrow();
    String chartVersion = Files.readAllLines(ROOT.resolve("helm/nodemesh/Chart.yaml")).stream()
        .filter(line -> line.startsWith("appVersion:")).map(line -> line.replaceAll(".*\"(.*)\".*", "$1"))
        .findFirst().orElseThrow();
    assertThat(image).isEqualTo(repository() + ":" + chartVersion);
  }

  @Test
  void theDefaultCommandPrintsTheUsageAsTheNonRootUser() throws Exception {
    assertThat(podman("run", "--rm", image).output()).contains("Usage: java -jar nodemesh-control-plane.jar");
    assertThat(podman("run", "--rm", "--entrypoint", "id", image).output().strip())
        .startsWith("uid=65532(nodemesh) gid=65532(nodemesh)");
  }

  @Test
  void theNodeAgentFindsItsToolsInTheSameImage() throws Exception {
    assertThat(podman("run", "--rm", image, "node-agent", "--help").output()).contains("node-agent");
    Result tools = podman("run", "--rm", "--user", "0", "--entrypoint", "sh", image, "-c",
        "for t in iptables-save iptables-restore iptables-legacy-save iptables-nft-save nsenter mount umount; do"
            + " command -v $t || echo missing $t; done; iptables-legacy-save --version; iptables-nft-save --version");
    System.out.println("agent tools:\n" + tools.output());
    assertThat(tools.output()).doesNotContain("missing").contains("(legacy)").contains("(nf_tables)");
  }

  @Test
  void theControlPlaneServesAClusterAndAnEnvoyFromTheHost() throws Exception {
    int admin = freePort();
    int debug = freePort();
    int xds = freePort();
    MockKubernetes k8s = MockKubernetes.start();
    k8s.namespace("shop", true);
    k8s.node("node-1", "zone-a");
    k8s.service("shop", "web", "10.96.0.10", List.of(MockKubernetes.servicePort("http", 8080, "http")));
    k8s.pod("shop", "web-0", "node-1", "10.1.1.10", "web");
    k8s.endpoints("shop", "web", "http", 8080, List.of(MockKubernetes.ready("10.1.1.10", "node-1")));
    // the host's network: the API on the host's loopback, the debug port on loopback, which is then the host's
    Result started = podman("run", "-d", "--rm", "--network=host", "-e", "KUBERNETES_MASTER=" + k8s.url(),
        "-e", "KUBERNETES_AUTH_TRYKUBECONFIG=false", "-e", "KUBERNETES_AUTH_TRYSERVICEACCOUNT=false", image,
        "--admin-port=" + admin, "--debug-port=" + debug, "--xds-port=" + xds, "--trust-loopback-clients=true");
    assertThat(started.exitCode()).as(started.output()).isZero();
    String container = started.output().strip();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", xds).usePlaintext().build();
    try {
      HttpClient http = HttpClient.newHttpClient();
      await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().untilAsserted(() -> {
        HttpResponse<String> ready = http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + admin + "/readyz")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
      });
      SimulatedEnvoy envoy = SimulatedEnvoy.builder(channel, "envoy-node-1", "node-1").connect();
      await().atMost(Duration.ofMinutes(1)).ignoreExceptions().untilAsserted(() -> {
        assertThat(envoy.names(SimulatedEnvoy.LDS)).anyMatch(name -> name.startsWith("pod/shop/web-0/"));
        HttpResponse<String> syncz = http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + debug + "/debug/syncz")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(syncz.statusCode()).isEqualTo(200);
        assertThat(new ObjectMapper().readTree(syncz.body()).findValuesAsText("node_id")).contains("envoy-node-1");
      });
      envoy.close();
      System.out.println("control plane in the container: /readyz 200, an Envoy of node-1 got the pod's listener");
    } finally {
      channel.shutdownNow();
      podman("stop", "-t", "5", container);
      k8s.close();
    }
  }

  @Test
  void theImagePushesToARegistryAndPullsByTheDigestItPrints(@TempDir Path storage) throws Exception {
    Assumptions.assumeTrue(run(Duration.ofSeconds(10), "sh", "-c", "command -v docker-registry").exitCode() == 0,
        "docker-registry (Debian package) not installed: push not tested");
    int port = freePort();
    Path config = storage.resolve("registry.yml");
    Files.writeString(config, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + storage.resolve("data")
        + "\nhttp:\n  addr: 127.0.0.1:" + port + "\n");
    Process registry = new ProcessBuilder("docker-registry", "serve", config.toString())
        .redirectErrorStream(true).redirectOutput(storage.resolve("registry.log").toFile()).start();
    try {
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v2/")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
      Result pushed = run(Duration.ofMinutes(10), Map.of("NODEMESH_PUSH_TLS_VERIFY", "false"),
          ROOT.resolve("images/build").toString(), "--jar", ControlPlaneProcess.jar().toAbsolutePath().toString(),
          "--agent-jar", agentJar(), "--push", "127.0.0.1:" + port + "/nodemesh");
      assertThat(pushed.exitCode()).as(pushed.output()).isZero();
      String digest = pushed.output().lines().filter(line -> line.startsWith("digest ")).map(line -> line.substring(7))
          .findFirst().orElseThrow();
      assertThat(digest).matches("sha256:[0-9a-f]{64}");
      Result pulled = podman("pull", "--tls-verify=false", "127.0.0.1:" + port + "/nodemesh/control-plane@" + digest);
      assertThat(pulled.exitCode()).as(pulled.output()).isZero();
      System.out.println("pushed and pulled by digest " + digest);
    } finally {
      registry.destroy();
      registry.waitFor(10, TimeUnit.SECONDS);
    }
  }

  // ---- helpers ----

  /** The node agent module's own jar (its classes; the image runs it on the control plane jar's classpath). */
  private static String agentJar() throws IOException {
    try (var jars = Files.list(ROOT.resolve("node-agent/target"))) {
      return jars.filter(jar -> jar.getFileName().toString().matches("node-agent-[^/]*(?<!-tests)\\.jar"))
          .findFirst().orElseThrow(() -> new IllegalStateException("node agent jar not built: run through 'mvn verify'"))
          .toAbsolutePath().toString();
    }
  }

  private static String repository() throws IOException {
    return Files.readAllLines(ROOT.resolve("images/image.env")).stream()
        .filter(line -> line.startsWith("NODEMESH_IMAGE_REPOSITORY=")).map(line -> line.substring(26))
        .findFirst().orElseThrow();
  }

  static Optional<String> unavailableReason() throws IOException, InterruptedException {
    Result uid = run(Duration.ofSeconds(10), "id", "-u");
    if (!uid.output().strip().equals("0")) {
      return Optional.of("needs root for podman with runc and mmdebstrap (uid " + uid.output().strip() + ")");
    }
    for (String tool : List.of("podman", "runc", "mmdebstrap")) {
      if (run(Duration.ofSeconds(10), "sh", "-c", "command -v " + tool).exitCode() != 0) {
        return Optional.of(tool + " is not installed (apt-get install podman runc mmdebstrap)");
      }
    }
    return Optional.empty();
  }

  private static Result podman(String... args) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of("podman"));
    argv.addAll(List.of(args));
    return run(Duration.ofMinutes(2), argv.toArray(String[]::new));
  }

  record Result(int exitCode, String output) {}

  private static Result run(Duration timeout, String... argv) throws IOException, InterruptedException {
    return run(timeout, Map.of(), argv);
  }

  private static Result run(Duration timeout, Map<String, String> env, String... argv)
      throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true);
    builder.environment().putAll(env);
    // the same runtime settings images/build writes (runc; crun fails on hybrid cgroup hosts)
    Path conf = ROOT.resolve("target/images/containers.conf");
    if (Files.isRegularFile(conf) && System.getenv("CONTAINERS_CONF") == null) {
      builder.environment().putAll(Map.of("CONTAINERS_CONF", conf.toString()));
    }
    Process process = builder.start();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "(output unreadable: " + e + ")";
      }
    });
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", argv) + " did not finish within " + timeout);
    }
    return new Result(process.exitValue(), out.join());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
