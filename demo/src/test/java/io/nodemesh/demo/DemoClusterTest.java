package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo's embedded API plays the cluster's controllers for objects a user creates (scheduler, kubelet,
 * EndpointSlice controller) and answers the discovery and patch requests kubectl sends.
 */
class DemoClusterTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String NAMESPACE = "team-a";
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static DemoCluster demo;
  private static KubernetesClient client;

  @BeforeAll
  static void start() throws Exception {
    demo = DemoCluster.start();
    client = demo.client();
  }

  @AfterAll
  static void stop() {
    demo.close();
  }

  private static EndpointSlice slice(String service) {
    return client.discovery().v1().endpointSlices().inNamespace(NAMESPACE).withName(service + "-demo").get();
  }

  private static List<String> endpointPods(EndpointSlice slice) {
    return slice == null || slice.getEndpoints() == null ? List.of()
        : slice.getEndpoints().stream().map(Endpoint::getTargetRef).map(ref -> ref.getName()).sorted().toList();
  }

  @Test
  void aPodNobodyScheduledIsPlacedStartedAndJoinsItsServicesEndpointsUntilDeleted() {
    client.services().inNamespace(NAMESPACE).resource(new ServiceBuilder().withNewMetadata().withName("web")
        .withNamespace(NAMESPACE).endMetadata().withNewSpec().addToSelector("app", "web").addNewPort().withName("http")
        .withPort(80).withNewTargetPort(8080).endPort().endSpec().build()).create();
    client.pods().inNamespace(NAMESPACE).resource(new PodBuilder().withNewMetadata().withName("web-x")
        .withNamespace(NAMESPACE).addToLabels("app", "web").endMetadata().withNewSpec().addNewContainer()
        .withName("web").withImage("nginx").endContainer().endSpec().build()).create();

    Pod started = await().atMost(DEADLINE).until(() -> client.pods().inNamespace(NAMESPACE).withName("web-x").get(),
        pod -> pod.getStatus() != null && pod.getStatus().getPodIP() != null);
    assertThat(DemoCluster.NODES).contains(started.getSpec().getNodeName());
    assertThat(started.getStatus().getPhase()).isEqualTo("Running");
    assertThat(started.getStatus().getPodIP()).matches("10\\.244\\.\\d+\\.\\d+");

    EndpointSlice slice = await().atMost(DEADLINE).until(() -> slice("web"),
        found -> endpointPods(found).equals(List.of("web-x")));
    assertThat(slice.getMetadata().getLabels()).containsEntry("kubernetes.io/service-name", "web");
    assertThat(slice.getPorts()).singleElement().satisfies(port -> {
      assertThat(port.getName()).isEqualTo("http");
      assertThat(port.getPort()).as("the target port, as Kubernetes publishes it").isEqualTo(8080);
    });
    assertThat(slice.getEndpoints().get(0).getAddresses()).containsExactly(started.getStatus().getPodIP());
    assertThat(slice.getEndpoints().get(0).getNodeName()).isEqualTo(started.getSpec().getNodeName());

    client.pods().inNamespace(NAMESPACE).withName("web-x").delete();
    await().atMost(DEADLINE).until(() -> endpointPods(slice("web")).isEmpty());

    client.services().inNamespace(NAMESPACE).withName("web").delete();
    await().atMost(DEADLINE).until(() -> slice("web") == null);
  }

  @Test
  void kubectlFindsTheResourcesItAsksForInTheDiscoveryDocuments() throws Exception {
    JsonNode core = get("/api/v1");
    assertThat(core.path("kind").asText()).isEqualTo("APIResourceList");
    assertThat(core.path("resources").findValuesAsText("name"))
        .contains("pods", "pods/status", "services", "nodes", "namespaces");
    assertThat(get("/api").path("versions")).extracting(JsonNode::asText).containsExactly("v1");
    assertThat(get("/apis").path("groups").findValuesAsText("name")).contains("discovery.k8s.io");
    assertThat(get("/apis/discovery.k8s.io/v1").path("resources").findValuesAsText("name"))
        .containsExactly("endpointslices");
    assertThat(get("/version").path("gitVersion").asText()).startsWith("v1.");
    // kubectl validates server-side when the PATCH operations take fieldValidation
    assertThat(get("/openapi/v3").path("paths").has("api/v1")).isTrue();
    assertThat(get("/openapi/v3/api/v1").path("paths").path("/api/v1/namespaces/{namespace}/pods/{name}")
        .path("patch").path("parameters").findValuesAsText("name")).containsExactly("fieldValidation");
  }

  private static JsonNode get(String path) throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(demo.url() + path)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(path).isEqualTo(200);
    return MAPPER.readTree(response.body());
  }

  @Test
  void aStrategicMergePatchMergesNamedListsByNameAndHonoursItsDirectives() throws Exception {
    JsonNode stored = MAPPER.readTree("""
        {"metadata":{"labels":{"app":"web","tier":"front"}},
         "spec":{"containers":[{"name":"web","image":"nginx:1","ports":[{"name":"http","containerPort":80}]},
                               {"name":"sidecar","image":"log:1"}]}}""");
    JsonNode patch = MAPPER.readTree("""
        {"metadata":{"labels":{"tier":null}},
         "spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"metrics"}],
                 "containers":[{"name":"web","image":"nginx:2"},{"name":"metrics","image":"prom:1"},
                               {"name":"sidecar","$patch":"delete"}]}}""");
    JsonNode merged = DemoApiDispatcher.strategicMerge(stored, patch);
    assertThat(merged).isEqualTo(MAPPER.readTree("""
        {"metadata":{"labels":{"app":"web"}},
         "spec":{"containers":[{"name":"web","image":"nginx:2","ports":[{"name":"http","containerPort":80}]},
                               {"name":"metrics","image":"prom:1"}]}}"""));
  }
}
