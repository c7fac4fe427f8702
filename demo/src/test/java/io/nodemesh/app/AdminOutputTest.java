package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.demo.DemoExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 18: the admin API speaks one JSON style (snake_case, RFC 3339 timestamps, no HTML escaping, compact or
 * {@code ?pretty}), and a node's config is Envoy's {@code config_dump} shape, read back with Envoy's own
 * {@code ConfigDump} proto and valid under Envoy's PGV rules.
 */
class AdminOutputTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  @RegisterExtension
  static final DemoExtension DEMO = new DemoExtension();

  private String get(String path) throws Exception {
    HttpResponse<String> response = DEMO.debug(path);
    assertThat(response.statusCode()).as("%s: %s", path, response.body()).isEqualTo(200);
    return response.body();
  }

  @Test
  void aNodesConfigIsAnEnvoyConfigDumpThatParsesBackAndPassesEnvoysValidation() throws Exception {
    String body = await().atMost(Duration.ofSeconds(60)).until(() -> get("/debug/nodes/node-a/config"),
        json -> json.contains("dynamic_route_configs"));

    JsonFormat.TypeRegistry.Builder registry = JsonFormat.TypeRegistry.newBuilder();
    for (String type : typeUrls(MAPPER.readTree(body), new TreeSet<>())) {
      registry.add(EnvoyTypes.descriptorFor(type).orElseThrow(() -> new AssertionError("unknown " + type)));
    }
    ConfigDump.Builder parsed = ConfigDump.newBuilder();
    JsonFormat.parser().usingTypeRegistry(registry.build()).merge(body, parsed);
    ConfigDump dump = parsed.build();

    assertThat(dump.getConfigsList()).extracting(Any::getTypeUrl).containsExactly(
        EnvoyTypes.typeUrl(ListenersConfigDump.getDescriptor().getFullName()),
        EnvoyTypes.typeUrl(ClustersConfigDump.getDescriptor().getFullName()),
        EnvoyTypes.typeUrl(EndpointsConfigDump.getDescriptor().getFullName()),
        EnvoyTypes.typeUrl(RoutesConfigDump.getDescriptor().getFullName()));
    ListenersConfigDump listeners = dump.getConfigs(0).unpack(ListenersConfigDump.class);
    ClustersConfigDump clusters = dump.getConfigs(1).unpack(ClustersConfigDump.class);
    EndpointsConfigDump endpoints = dump.getConfigs(2).unpack(EndpointsConfigDump.class);
    RoutesConfigDump routes = dump.getConfigs(3).unpack(RoutesConfigDump.class);
    assertThat(listeners.getDynamicListenersList()).isNotEmpty().allSatisfy(listener -> {
      assertThat(listener.getActiveState().getVersionInfo()).isNotEmpty();
      assertThat(listener.getName()).isEqualTo(
          listener.getActiveState().getListener().unpack(Listener.class)
              .getName());
    });
    assertThat(clusters.getDynamicActiveClustersList()).isNotEmpty();
    assertThat(endpoints.getDynamicEndpointConfigsList()).isNotEmpty();
    assertThat(routes.getDynamicRouteConfigsList()).isNotEmpty();

    List<Any> resources = new ArrayList<>();
    listeners.getDynamicListenersList().forEach(l -> resources.add(l.getActiveState().getListener()));
    clusters.getDynamicActiveClustersList().forEach(c -> resources.add(c.getCluster()));
    endpoints.getDynamicEndpointConfigsList().forEach(e -> resources.add(e.getEndpointConfig()));
    routes.getDynamicRouteConfigsList().forEach(r -> resources.add(r.getRouteConfig()));
    for (Any resource : resources) {
      Message message = EnvoyTypes.unpack(resource);
      assertThat(EnvoyValidator.violations(message)).as("%s", resource.getTypeUrl()).isEmpty();
    }
    EnvoyValidator.requireValid(dump);
  }

  @Test
  void everyAnswerIsSnakeCaseWithoutHtmlEscapesAndRfc3339Times() throws Exception {
    String syncz = await().atMost(Duration.ofSeconds(60)).until(() -> get("/debug/syncz"),
        json -> json.contains("last_ack"));
    for (String path : List.of("/readyz", "/debug/nodes", "/debug/syncz", "/debug/pods/demo/frontend-1",
        "/debug/nodes/node-a/config")) {
      String body = get(path);
      assertThat(body).as(path).doesNotContain("\\u003d", "\\u0027", "\\u003e", "\\u003c", "\\u0026");
      assertThat(body).as("%s is compact unless ?pretty", path).doesNotContain("\n");
      assertThat(get(path + "?pretty")).as(path).contains("\n  ");
      Set<String> keys = objectKeys(MAPPER.readTree(body), new TreeSet<>());
      assertThat(keys).as(path).allMatch(key -> key.matches("@type|[a-z][a-z0-9_]*"));
    }
    assertThat(MAPPER.readTree(get("/debug/state")).path("model").fieldNames()).toIterable()
        .contains("meshed_pods", "endpoint_slices");

    JsonNode client = MAPPER.readTree(syncz).path("clients").get(0);
    OffsetDateTime.parse(client.path("connected_at").asText());
    for (JsonNode type : client.path("types")) {
      if (type.has("last_ack")) {
        OffsetDateTime.parse(type.path("last_ack").asText());
      }
    }
  }

  @Test
  void thePodListFiltersByNodeAndNamespaceAndSaysPerEnvoyWhetherItAckedOrThatNoneIsConnected() throws Exception {
    JsonNode onNodeA = await().atMost(Duration.ofSeconds(60)).until(
        () -> MAPPER.readTree(get("/debug/pods?node=node-a&namespace=demo")),
        list -> list.path("pods").size() > 0 && list.path("pods").findValues("acked").stream()
            .allMatch(JsonNode::asBoolean));
    assertThat(onNodeA.path("matched").asInt()).isEqualTo(onNodeA.path("pods").size());
    for (JsonNode pod : onNodeA.path("pods")) {
      assertThat(pod.path("node_name").asText()).isEqualTo("node-a");
      assertThat(pod.path("namespace").asText()).isEqualTo("demo");
      assertThat(pod.path("envoys")).isNotEmpty().allSatisfy(envoy -> {
        assertThat(envoy.path("acked").asBoolean()).isTrue();
        assertThat(envoy.path("node_id").asText()).isNotEmpty();
      });
      assertThat(pod.has("not_acked_reason")).as("absent when acked").isFalse();
      assertThat(pod.path("convergence_millis").isNumber()).as("a number, not a string of digits").isTrue();
    }
    assertThat(MAPPER.readTree(get("/debug/pods?namespace=no-such-namespace")).path("matched").asInt()).isZero();

    // a node the demo runs no Envoy for
    var client = DEMO.demo().cluster().client();
    client.nodes().resource(new NodeBuilder().withNewMetadata()
        .withName("node-without-envoy").endMetadata().build()).create();
    client.pods().inNamespace("demo").resource(new PodBuilder().withNewMetadata()
        .withName("lonely").withNamespace("demo").endMetadata()
        .withNewSpec().withNodeName("node-without-envoy").addNewContainer().withName("app").withImage("app")
        .endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.244.9.9").endStatus().build()).create();
    JsonNode lonely = await().atMost(Duration.ofSeconds(60)).until(
        () -> MAPPER.readTree(get("/debug/pods?node=node-without-envoy")).path("pods").path(0),
        pod -> pod.path("listeners").size() > 0);
    assertThat(lonely.path("acked").asBoolean()).isFalse();
    assertThat(lonely.path("not_acked_reason").asText()).isEqualTo("no Envoy connected for node node-without-envoy");
    assertThat(lonely.has("convergence_millis")).as("absent, not zero").isFalse();
  }

  private static Set<String> typeUrls(JsonNode node, Set<String> found) {
    if (node.isObject() && node.has("@type")) {
      found.add(node.get("@type").asText());
    }
    node.forEach(child -> typeUrls(child, found));
    return found;
  }

  /** Every object key in the document, except inside Envoy resources (their names are Envoy's, not ours). */
  private static Set<String> objectKeys(JsonNode node, Set<String> found) {
    if (node.isObject()) {
      if (node.has("@type") && !node.get("@type").asText().contains("admin.v3")) {
        return found;
      }
      for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext(); ) {
        Map.Entry<String, JsonNode> field = fields.next();
        found.add(field.getKey());
        objectKeys(field.getValue(), found);
      }
    } else {
      node.forEach(child -> objectKeys(child, found));
    }
    return found;
  }
}
