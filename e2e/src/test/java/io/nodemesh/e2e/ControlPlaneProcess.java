package io.nodemesh.e2e;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The control plane's fat jar running as a separate process, as in production: pointed at a Kubernetes API
 * through fabric8's standard environment variables, with free ports picked by the process and read back from
 * its log. The output is kept in {@code target/e2e-logs/} so a failing run shows what the process said.
 */
public final class ControlPlaneProcess implements AutoCloseable {

  private static final Pattern ADMIN_PORT = Pattern.compile("probe endpoint listening on \\S+:(\\d+) ");
  private static final Pattern DEBUG_PORT = Pattern.compile("debug endpoint listening on \\S+:(\\d+) ");
  private static final Pattern XDS_PORT = Pattern.compile("xDS \\(ADS, SotW and Delta\\) listening on port (\\d+)");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final Path log;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private ControlPlaneProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** The jar built by the reactor (system property {@code nodemesh.jar}, set by the e2e pom). */
  public static Path jar() {
    Path jar = Paths.get(System.getProperty("nodemesh.jar", "../control-plane/target/nodemesh-control-plane.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("control plane jar not built: " + jar.toAbsolutePath()
          + " (run through 'mvn verify' so control-plane is packaged first)");
    }
    return jar;
  }

  /** The demo's jar built by the reactor (system property {@code nodemesh.demo.jar}, set by the e2e pom). */
  public static Path demoJar() {
    Path jar = Paths.get(System.getProperty("nodemesh.demo.jar", "../demo/target/nodemesh-demo.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("demo jar not built: " + jar.toAbsolutePath()
          + " (run through 'mvn verify' so demo is packaged first)");
    }
    return jar;
  }

  /**
   * Flags every harness passes: its simulated Envoys and clients all connect over loopback, as the demo's do,
   * and the binary's safe default does not trust loopback.
   */
  public static final List<String> HARNESS_FLAGS = List.of("--trust-loopback-clients=true");

  /**
   * Starts the control plane's jar against {@code kubernetesUrl} (null: no Kubernetes settings at all)
   * with the given extra flags; ports are always chosen by the process.
   */
  public static ControlPlaneProcess start(String name, String kubernetesUrl, String... flags) throws IOException {
    return start(jar(), name, kubernetesUrl, flags);
  }

  /** Starts the demo's jar (its own embedded API and demo Envoys) with the given extra flags. */
  public static ControlPlaneProcess startDemo(String name, String... flags) throws IOException {
    return start(demoJar(), name, null, flags);
  }

  private static ControlPlaneProcess start(Path jar, String name, String kubernetesUrl, String... flags)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m", "-jar",
        jar.toString(), "--admin-port=0", "--debug-port=0", "--xds-port=0"));
    command.addAll(HARNESS_FLAGS);
    command.addAll(List.of(flags));
    // output goes to a file, not a pipe: a pipe loses its last lines when the process exits mid-read
    Path logDir = Files.createDirectories(Paths.get("target", "e2e-logs"));
    Path log = Files.createTempFile(logDir, name + "-", ".log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    // fabric8 auto-configuration, with nothing of the developer's machine leaking in
    builder.environment().put("KUBECONFIG", "/nonexistent/kubeconfig");
    builder.environment().put("KUBERNETES_AUTH_TRYKUBECONFIG", "false");
    builder.environment().put("KUBERNETES_AUTH_TRYSERVICEACCOUNT", "false");
    if (kubernetesUrl != null) {
      builder.environment().put("KUBERNETES_MASTER", kubernetesUrl);
    }
    return new ControlPlaneProcess(builder.start(), log);
  }

  /** Waits until {@code /readyz} answers 200 (informers synced, xDS listening). */
  public ControlPlaneProcess awaitReady(Duration timeout) {
    await("control plane ready").atMost(timeout).pollInterval(Duration.ofMillis(100)).until(() -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("control plane exited with " + process.exitValue() + ":\n"
            + String.join("\n", output()));
      }
      return adminPort() > 0 && debugPort() > 0 && xdsPort() > 0 && status("/readyz") == 200;
    });
    return this;
  }

  /** The admin (probe) port the process logged, or -1 before that: /healthz, /readyz, /metrics. */
  public int adminPort() {
    return portFromLog(ADMIN_PORT);
  }

  /** The debug port the process logged (loopback), or -1 before that: every endpoint. */
  public int debugPort() {
    return portFromLog(DEBUG_PORT);
  }

  /** The xDS port the process logged, or -1 before that. */
  public int xdsPort() {
    return portFromLog(XDS_PORT);
  }

  private int portFromLog(Pattern pattern) {
    for (String line : output()) {
      Matcher match = pattern.matcher(line);
      if (match.find()) {
        return Integer.parseInt(match.group(1));
      }
    }
    return -1;
  }

  /** Everything the process printed so far (its log file: {@link #logFile()}). */
  public List<String> output() {
    try {
      return Files.readAllLines(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path logFile() {
    return log;
  }

  /** GET on the port that serves {@code path} (see {@link #send}); returns the status code. */
  public int status(String path) throws IOException, InterruptedException {
    return send(path).statusCode();
  }

  /** GET on the port that serves {@code path}, parsed as JSON. */
  public JsonNode json(String path) throws IOException, InterruptedException {
    return JSON.readTree(send(path).body());
  }

  /** GET on the port that serves {@code path}, as text. */
  public String text(String path) throws IOException, InterruptedException {
    return send(path).body();
  }

  /** Probes and metrics go to the admin port, as the kubelet and Prometheus do; everything else to the debug port. */
  private HttpResponse<String> send(String path) throws IOException, InterruptedException {
    boolean probe = path.equals("/healthz") || path.equals("/readyz") || path.equals("/metrics");
    return send(probe ? adminPort() : debugPort(), path);
  }

  /** GET on one port of the process. */
  public HttpResponse<String> send(int port, String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Waits for the process to end by itself and returns its exit code. */
  public int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("control plane still running after " + timeout);
    }
    return process.exitValue();
  }

  /** Sends SIGTERM and returns the exit code. */
  public int terminate(Duration timeout) throws InterruptedException {
    process.destroy(); // SIGTERM on Linux
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("control plane did not stop within " + timeout);
    }
    return process.exitValue();
  }

  /** A plaintext gRPC channel to this process's xDS port; the caller shuts it down. */
  public io.grpc.ManagedChannel xdsChannel() {
    return io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", xdsPort())
        .usePlaintext().build();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
  }
}
