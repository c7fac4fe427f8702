package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.demo.Demo;
import io.nodemesh.demo.DemoPlanes;
import io.nodemesh.flags.Flag;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, finding 4, in the running control plane: the port the Service exposes answers probes and metrics only,
 * the debug endpoints listen on loopback and, with a token configured, refuse requests without it.
 */
class AdminPortsTest {

  private static final String TOKEN = "debug-token-for-this-test-0123";

  @TempDir
  Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> get(int port, String path, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theProbePortServesOnlyProbesAndMetricsAndTheDebugPortOnLoopbackWantsTheToken() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
    try (Demo demo = DemoPlanes.start("--debug-auth=token-file", "--debug-token-file=" + tokens)) {
      ControlPlane plane = demo.plane();
      int probe = plane.adminPort();
      int debug = plane.debugPort();

      assertThat(plane.debugAddress()).isEqualTo("127.0.0.1");
      assertThat(debug).isNotEqualTo(probe);
      assertThat(get(probe, "/healthz", null).statusCode()).isEqualTo(200);
      assertThat(get(probe, "/readyz", null).statusCode()).isEqualTo(200);
      for (String hidden : List.of("/debug", "/debug/config", "/debug/state", "/debug/syncz", "/debug/nodes",
          "/debug/nodes/node-a/config", "/debug/pods/demo/frontend-1")) {
        HttpResponse<String> response = get(probe, hidden, TOKEN);
        assertThat(response.statusCode()).as("%s on the probe port", hidden).isEqualTo(404);
        assertThat(response.body()).doesNotContain("netns");
      }

      HttpResponse<String> withoutToken = get(debug, "/debug/nodes/node-a/config", null);
      HttpResponse<String> withToken = get(debug, "/debug/nodes/node-a/config", TOKEN);
      HttpResponse<String> index = get(debug, "/debug", TOKEN);
      HttpResponse<String> config = get(debug, "/debug/config", TOKEN);

      assertThat(withoutToken.statusCode()).isEqualTo(401);
      assertThat(withoutToken.body()).doesNotContain("listeners");
      assertThat(withToken.statusCode()).isEqualTo(200);
      assertThat(withToken.body()).contains("\"dynamic_listeners\"");
      assertThat(index.body()).contains("/debug/pods/{namespace}/{name}", "/healthz", "/readyz", "/metrics");
      for (Flag<?> flag : List.of(Settings.DEBUG_PORT, Settings.DEBUG_ADDRESS, Settings.DEBUG_AUTH,
          Settings.DEBUG_TOKEN_FILE, Settings.ADMIN_READ_TIMEOUT, Settings.ADMIN_MAX_CONNECTIONS,
          Settings.ADMIN_MAX_CONNECTIONS_PER_ADDRESS)) {
        assertThat(config.body()).as("/debug/config shows --%s", flag.name()).contains("\"" + flag.name() + "\"");
      }
      HttpResponse<String> metrics = get(probe, "/metrics", null);
      assertThat(metrics.headers().firstValue("Content-Type")).as("one charset, as Prometheus' format names it")
          .hasValue("text/plain; version=0.0.4; charset=utf-8");
      assertThat(config.headers().firstValue("Content-Type")).hasValueSatisfying(type ->
          assertThat(type).endsWith("; charset=utf-8").containsOnlyOnce("charset"));
      assertThat(metrics.body())
          .contains("nodemesh_admin_refused_total{port=\"debug\",reason=\"unauthenticated\"} 1.0")
          .contains("nodemesh_admin_refused_total{port=\"probe\",reason=\"read-timeout\"} 0.0");
    }
  }
}
