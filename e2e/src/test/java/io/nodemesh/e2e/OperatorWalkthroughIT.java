package io.nodemesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's walk-through as a user types it: the demo jar, a real {@code kubectl} against its embedded API
 * (skipped where no kubectl is installed), and the jar's own {@code status} / {@code config} commands. What the
 * commands print is echoed with a {@code [walkthrough]} prefix, for the docs.
 */
class OperatorWalkthroughIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration DEADLINE = Duration.ofSeconds(60);
  private static final Pattern KUBECONFIG = Pattern.compile("export KUBECONFIG=(\\S+?)\\)");

  /** Exit code and merged output of one command. */
  private record Result(int exitCode, String output) {}

  private static Result run(Map<String, String> env, String... command) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    Process process = builder.start();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s ends", List.of(command)).isTrue();
    Result result = new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    System.out.println("[walkthrough] $ " + String.join(" ", command));
    result.output().lines().forEach(line -> System.out.println("[walkthrough] " + line));
    return result;
  }

  private static Result cli(ControlPlaneProcess demo, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java")
        .toString(), "-jar", ControlPlaneProcess.jar().toString()));
    command.addAll(List.of(args));
    command.add("--debug-url=http://127.0.0.1:" + demo.debugPort());
    return run(Map.of(), command.toArray(String[]::new));
  }

  @Test
  void theJarsStatusAndConfigCommandsReadARunningDemo() throws Exception {
    try (ControlPlaneProcess demo = ControlPlaneProcess.startDemo("cli").awaitReady(STARTUP)) {
      Result status = await().atMost(DEADLINE).until(() -> cli(demo, "status"), result -> result.output().lines()
          .filter(line -> line.matches("node-[abc]\\s+demo-envoy-node-[abc]\\s+envoy(\\s+SYNCED [0-9a-f]{8}){4}.*"))
          .count() == 3);
      assertThat(status.exitCode()).isZero();
      assertThat(status.output().lines().findFirst().orElseThrow().split("\\s{2,}"))
          .containsExactly("NODE", "CLIENT", "KIND", "CDS", "LDS", "EDS", "RDS", "CONNECTED");

      Result listeners = cli(demo, "config", "node-a", "--type", "listeners");
      assertThat(listeners.exitCode()).isZero();
      assertThat(listeners.output()).containsPattern("pod/demo/\\S+/outbound\\s+0\\.0\\.0\\.0:15001\\s+"
          + "/var/run/nodemesh/netns/");

      Result json = cli(demo, "config", "node-a", "--type=clusters", "-o", "json");
      assertThat(json.exitCode()).isZero();
      assertThat(json.output()).contains("\"@type\" : \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\"");

      Result unknown = cli(demo, "config", "node-z");
      assertThat(unknown.exitCode()).isEqualTo(1);
      assertThat(unknown.output().strip()).isEqualTo("nodemesh: HTTP 404 from http://127.0.0.1:" + demo.debugPort()
          + "/debug/nodes/node-z/config: unknown node: node-z");
    }
  }

  @Test
  void kubectlAppliesAPodThatReachesItsNodesEnvoyAndDeletesIt(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(kubectlInstalled(), "kubectl walk-through skipped: no kubectl on PATH "
        + "(.ci/run installs one where apt-get can)");
    try (ControlPlaneProcess demo = ControlPlaneProcess.startDemo("kubectl").awaitReady(STARTUP)) {
      String kubeconfig = await().atMost(DEADLINE).until(() -> kubeconfig(demo), path -> path != null);
      Map<String, String> env = Map.of("KUBECONFIG", kubeconfig);
      Path manifest = Files.writeString(dir.resolve("web.yaml"), """
          apiVersion: v1
          kind: Pod
          metadata:
            name: web
            labels:
              app: frontend
          spec:
            containers:
            - name: web
              image: nginx
          """);
      assertThat(run(env, "kubectl", "version").output()).contains("Server Version: v1.");

      Result apply = run(env, "kubectl", "apply", "-f", manifest.toString());
      assertThat(apply.exitCode()).as(apply.output()).isZero();
      assertThat(apply.output().strip()).isEqualTo("pod/web created");

      JsonNode pod = await().atMost(DEADLINE).until(() -> demo.status("/debug/pods/demo/web") == 200
          ? demo.json("/debug/pods/demo/web") : null, found -> found != null && found.path("acked").asBoolean());
      System.out.println("[walkthrough] $ curl " + "http://127.0.0.1:<debug port>/debug/pods/demo/web");
      System.out.println("[walkthrough] " + pod);
      String node = pod.path("node_name").asText();
      assertThat(node).matches("node-[abc]");
      assertThat(pod.path("listeners")).extracting(JsonNode::asText).containsExactly("pod/demo/web/outbound");
      assertThat(pod.path("envoys")).singleElement().satisfies(envoy -> {
        assertThat(envoy.path("node_id").asText()).isEqualTo("demo-envoy-" + node);
        assertThat(envoy.path("acked").asBoolean()).isTrue();
      });
      assertThat(pod.path("convergence_millis").isNumber()).isTrue();

      Result pods = run(env, "kubectl", "get", "pods", "-o", "wide");
      assertThat(pods.output()).containsPattern("(?m)^web\\s+Running\\s+10\\.244\\.\\d+\\.\\d+\\s+" + node + "\\s");
      String ip = run(env, "kubectl", "get", "pod", "web", "-o", "jsonpath={.status.podIP}").output().strip();
      assertThat(ip).matches("10\\.244\\.\\d+\\.\\d+");
      // the demo's EndpointSlice controller adds the pod to the frontend service, and every node's Envoy gets it
      await().atMost(DEADLINE).until(() -> demo.json("/debug/nodes/node-a/config").toString()
          .contains("\"address\":\"" + ip + "\""));

      Result delete = run(env, "kubectl", "delete", "pod", "web");
      assertThat(delete.output().strip()).isEqualTo("pod \"web\" deleted");
      await().atMost(DEADLINE).until(() -> demo.status("/debug/pods/demo/web") == 404
          && !demo.json("/debug/nodes/node-a/config").toString().contains("\"address\":\"" + ip + "\""));
    }
  }

  private static String kubeconfig(ControlPlaneProcess demo) {
    for (String line : demo.output()) {
      Matcher match = KUBECONFIG.matcher(line);
      if (match.find()) {
        return match.group(1);
      }
    }
    return null;
  }

  private static boolean kubectlInstalled() {
    try {
      Process probe = new ProcessBuilder("kubectl", "version", "--client").redirectErrorStream(true).start();
      probe.getInputStream().readAllBytes();
      return probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
