package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.nodemesh.demo.DemoExtension;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 20's visibility in the running application: {@code /debug/pods} shows the limits in force per pod, and an
 * annotation that could not be applied in the pod's reason, while every other pod keeps its limits.
 */
class PodLimitsEndpointTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  @RegisterExtension
  static final DemoExtension DEMO = new DemoExtension("--pod-max-connections=500", "--pod-max-connection-rate=50",
      "--pod-max-request-rate-per-connection=30");

  private JsonNode pod(String name) throws Exception {
    return MAPPER.readTree(DEMO.debug("/debug/pods/demo/" + name).body());
  }

  private void create(String name, Map<String, String> annotations) {
    DEMO.demo().cluster().client().pods().inNamespace("demo").resource(new PodBuilder().withNewMetadata()
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
    assertThat(frugal.path("limits").path("max_request_rate_per_connection").asInt()).isEqualTo(30);
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
