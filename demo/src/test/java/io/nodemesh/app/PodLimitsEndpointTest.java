package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.nodemesh.demo.Demo;
import io.nodemesh.demo.DemoPlanes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 20's visibility in the running application: {@code /debug/pods} shows the limits in force per pod, and an
 * annotation that could not be applied in the pod's reason, while every other pod keeps its limits.
 */
class PodLimitsEndpointTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static Demo demo;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    demo = DemoPlanes.start("--pod-max-connections=500", "--pod-max-connection-rate=50");
  }

  @AfterAll
  static void stop() {
    demo.close();
  }

  private JsonNode pod(String name) throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + demo.plane().debugPort() + "/debug/pods/demo/" + name))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    return MAPPER.readTree(response.body());
  }

  private void create(String name, Map<String, String> annotations) {
    demo.cluster().client().pods().inNamespace("demo").resource(new PodBuilder().withNewMetadata()
        .withName(name).withNamespace("demo").addToLabels("app", name).addToAnnotations(annotations).endMetadata()
        .withNewSpec().addNewContainer().withName("app").withImage("app").endContainer().endSpec().build()).create();
  }

  @Test
  void thePodsShowTheirLimitsAndWhyAnAnnotationWasNotApplied() throws Exception {
    create("frugal", Map.of("nodemesh.io/max-connections", "20"));
    create("greedy", Map.of("nodemesh.io/max-connections", "100000", "nodemesh.io/max-connection-rate", "fast"));

    JsonNode frugal = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> pod("frugal"), pod -> pod.path("listeners").size() > 0);
    assertThat(frugal.path("limits").path("max_connections").asInt()).isEqualTo(20);
    assertThat(frugal.path("limits").path("max_connection_rate").asInt()).isEqualTo(50);
    assertThat(frugal.path("reason").asText()).doesNotContain("nodemesh.io/max");

    JsonNode greedy = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> pod("greedy"), pod -> pod.path("reason").asText().contains("max-connection-rate"));
    assertThat(greedy.path("limits").path("max_connections").asInt()).as("the ceiling holds").isEqualTo(500);
    assertThat(greedy.path("limits").path("max_connection_rate").asInt()).isEqualTo(50);
    assertThat(greedy.path("reason").asText())
        .contains("nodemesh.io/max-connections=100000 is above the node-wide limit 500")
        .contains("nodemesh.io/max-connection-rate must be a whole number");
    assertThat(greedy.path("listeners").size()).as("still meshed, with the node-wide limits").isEqualTo(1);
  }
}
