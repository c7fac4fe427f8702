package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.nodemesh.demo.DemoExtension;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Mesh routes in the running application: an HTTPRoute applied to the demo's API (which serves the Gateway API
 * kinds, as a cluster with the CRDs does) shows on {@code /debug/routes} with its conditions, a route naming a
 * missing Service says so, and the leader writes the same conditions into the route's status.
 */
class RoutesEndpointTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  @RegisterExtension
  static final DemoExtension DEMO = new DemoExtension();

  @Test
  void routesShowTheirConditionsOnDebugRoutesAndInTheirStatus() throws Exception {
    create(route("frontend-canary", "frontend", 80));
    create(route("nowhere", "no-such-service", 80));

    JsonNode routes = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MAPPER.readTree(DEMO.debug("/debug/routes?namespace=demo").body()),
            answer -> answer.path("matched").asInt() == 2);
    JsonNode canary = routes.path("routes").get(0);
    assertThat(canary.path("name").asText()).isEqualTo("frontend-canary");
    assertThat(canary.path("parents").get(0).path("service").asText()).isEqualTo("demo/frontend");
    assertThat(canary.path("parents").get(0).path("conditions").get(0).path("status").asText()).isEqualTo("True");
    JsonNode nowhere = routes.path("routes").get(1);
    assertThat(nowhere.path("parents").get(0).path("conditions").get(0).path("reason").asText())
        .isEqualTo("NoMatchingParent");

    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
      HTTPRoute written = DEMO.demo().cluster().client().resources(HTTPRoute.class).inNamespace("demo")
          .withName("nowhere").get();
      assertThat(written.getStatus().getParents()).singleElement().satisfies(parent ->
          assertThat(parent.getConditions()).filteredOn(c -> c.getType().equals("Accepted"))
              .extracting(Condition::getStatus, Condition::getReason)
              .containsExactly(org.assertj.core.groups.Tuple.tuple("False", "NoMatchingParent")));
    });
  }

  private static void create(HTTPRoute route) {
    DEMO.demo().cluster().client().resources(HTTPRoute.class).inNamespace("demo").resource(route).create();
  }

  private static HTTPRoute route(String name, String service, int port) {
    return new HTTPRouteBuilder()
        .withNewMetadata().withNamespace("demo").withName(name).endMetadata()
        .withNewSpec()
            .addNewParentRef().withGroup("").withKind("Service").withName(service).withPort(port).endParentRef()
            .addNewRule()
                .addNewMatch().withNewPath().withType("PathPrefix").withValue("/beta").endPath().endMatch()
                .addNewBackendRef().withName("frontend").withPort(80).endBackendRef()
            .endRule()
        .endSpec()
        .build();
  }
}
