package io.nodemesh.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.APIGroupBuilder;
import io.fabric8.kubernetes.api.model.APIGroupListBuilder;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionForDiscoveryBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodList;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.nodemesh.cli.TextTable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The demo's embedded API with the discovery documents kubectl reads before anything else ({@code /version},
 * {@code /api}, {@code /apis}, the resource lists): fabric8's CRUD mock answers every path with a list, which kubectl
 * takes for "the server doesn't have a resource type". Everything else is the CRUD mock's.
 */
final class DemoApiDispatcher extends KubernetesCrudDispatcher {

  /** A resource the demo serves; {@code group} is empty for the core group. */
  private record Served(String group, String plural, String singular, String kind, boolean namespaced,
                        List<String> shortNames) {}

  private static final List<String> VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

  /** What the demo's cluster holds and nodemesh watches; kubectl lists exactly these. */
  private static final List<Served> SERVED = List.of(
      new Served("", "namespaces", "namespace", "Namespace", false, List.of("ns")),
      new Served("", "nodes", "node", "Node", false, List.of("no")),
      new Served("", "pods", "pod", "Pod", true, List.of("po")),
      new Served("", "services", "service", "Service", true, List.of("svc")),
      new Served("", "events", "event", "Event", true, List.of("ev")),
      new Served("discovery.k8s.io", "endpointslices", "endpointslice", "EndpointSlice", true, List.of()),
      // as in a cluster with the Gateway API CRDs installed: kubectl applies mesh routes, nodemesh watches them
      new Served("gateway.networking.k8s.io", "httproutes", "httproute", "HTTPRoute", true, List.of()),
      new Served("gateway.networking.k8s.io", "grpcroutes", "grpcroute", "GRPCRoute", true, List.of()));

  private static final Pattern PODS = Pattern.compile("/api/v1(/namespaces/[^/]+/pods(/[^/]+)?|/pods)");

  private final Map<String, String> documents = discoveryDocuments();

  DemoApiDispatcher() {
    super(List.of());
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    String path = request.getPath();
    int query = path.indexOf('?');
    String bare = query < 0 ? path : path.substring(0, query);
    if ("GET".equals(request.getMethod())) {
      String document = documents.get(bare.endsWith("/") && bare.length() > 1 ? bare.substring(0, bare.length() - 1)
          : bare);
      if (document != null) {
        return json(200, document);
      }
      if (bare.startsWith("/openapi/v2") || bare.equals("/apis/apidiscovery.k8s.io")) {
        // kubectl validates against OpenAPI when the server has it and goes without when it answers 404
        return json(404, Serialization.asJson(new StatusBuilder().withStatus("Failure").withCode(404)
            .withReason("NotFound").withMessage("the demo API serves no OpenAPI documents").build()));
      }
    }
    String accept = request.getHeader("Accept");
    if ("GET".equals(request.getMethod()) && accept != null && accept.contains("as=Table")
        && PODS.matcher(bare).matches() && !path.contains("watch=")) {
      MockResponse list = super.dispatch(request);
      return list.code() == 200 ? json(200, podTable(list.getBody().readUtf8())) : list;
    }
    String contentType = request.getHeader("Content-Type");
    if ("PATCH".equals(request.getMethod()) && contentType != null && contentType.contains("strategic-merge-patch")) {
      return applyStrategicMergePatch(request, bare);
    }
    return super.dispatch(request);
  }

  /**
   * kubectl apply of a changed object sends a strategic merge patch, which the CRUD mock refuses (415), and the mock's
   * JSON merge patch appends to lists. So the demo merges here — maps recursively, {@code null} removes, lists of
   * objects with a {@code name} merge by name (the merge key of containers, ports, env, volumes), in the order
   * {@code $setElementOrder} gives, {@code $patch: delete} removes one — and stores the result with a PUT.
   */
  private MockResponse applyStrategicMergePatch(RecordedRequest request, String path) {
    MockResponse stored = super.handleGet(path);
    if (stored.code() != 200) {
      return stored;
    }
    JsonNode merged = strategicMerge(Serialization.unmarshal(stored.getBody().readUtf8(), JsonNode.class),
        Serialization.unmarshal(request.getUtf8Body(), JsonNode.class));
    Headers headers = request.getHeaders().newBuilder().set("Content-Type", "application/json").build();
    return super.dispatch(new RecordedRequest(request.getHttpVersion(), HttpMethod.PUT, request.getPath(), headers,
        new Buffer(Serialization.asJson(merged).getBytes(StandardCharsets.UTF_8))));
  }

  static JsonNode strategicMerge(JsonNode stored, JsonNode patch) {
    if (!(patch instanceof ObjectNode patchObject) || !(stored instanceof ObjectNode storedObject)) {
      return patch;
    }
    ObjectNode result = storedObject.deepCopy();
    patchObject.fields().forEachRemaining(field -> {
      String name = field.getKey();
      JsonNode value = field.getValue();
      if (name.startsWith("$")) {
        return;
      }
      if (value.isNull()) {
        result.remove(name);
      } else if (value.isArray() && isKeyedByName(value) && isKeyedByName(result.path(name))) {
        result.set(name, mergeByName((ArrayNode) result.get(name), (ArrayNode) value,
            patchObject.get("$setElementOrder/" + name)));
      } else {
        result.set(name, strategicMerge(result.path(name), value));
      }
    });
    return result;
  }

  private static boolean isKeyedByName(JsonNode array) {
    if (!array.isArray()) {
      return false;
    }
    for (JsonNode element : array) {
      if (!element.isObject() || !element.path("name").isTextual()) {
        return false;
      }
    }
    return true;
  }

  private static ArrayNode mergeByName(ArrayNode stored, ArrayNode patch, JsonNode order) {
    Map<String, JsonNode> byName = new LinkedHashMap<>();
    stored.forEach(element -> byName.put(element.get("name").asText(), element));
    for (JsonNode element : patch) {
      String name = element.get("name").asText();
      if ("delete".equals(element.path("$patch").asText())) {
        byName.remove(name);
      } else {
        byName.put(name, strategicMerge(byName.getOrDefault(name, element.deepCopy()), element));
      }
    }
    ArrayNode result = stored.arrayNode();
    if (order != null && order.isArray()) {
      order.forEach(entry -> {
        JsonNode element = byName.get(entry.path("name").asText());
        if (element != null) {
          result.add(element);
        }
      });
    } else {
      byName.values().forEach(result::add);
    }
    return result;
  }

  /**
   * {@code kubectl get pods} asks for a server-side Table; without one it shows only NAME and AGE. The demo's Table
   * has what the walk-through looks at: the node the demo scheduled the pod on and the IP its kubelet gave.
   */
  private static String podTable(String podOrList) {
    JsonNode answer = Serialization.unmarshal(podOrList, JsonNode.class);
    boolean single = "Pod".equals(answer.path("kind").asText());
    List<Pod> pods = single ? List.of(Serialization.unmarshal(podOrList, Pod.class))
        : Serialization.unmarshal(podOrList, PodList.class).getItems();
    String resourceVersion = single ? pods.get(0).getMetadata().getResourceVersion()
        : answer.path("metadata").path("resourceVersion").asText();
    List<Map<String, Object>> rows = new ArrayList<>();
    Instant now = Instant.now();
    for (Pod pod : pods) {
      var status = pod.getStatus();
      String created = pod.getMetadata().getCreationTimestamp();
      String age = created == null ? "<unknown>"
          : TextTable.age(Duration.between(Instant.parse(created), now));
      rows.add(Map.of("cells", List.of(pod.getMetadata().getName(),
              status == null || status.getPhase() == null ? "Pending" : status.getPhase(),
              status == null || status.getPodIP() == null ? "<none>" : status.getPodIP(),
              pod.getSpec() == null || pod.getSpec().getNodeName() == null ? "<none>" : pod.getSpec().getNodeName(),
              age),
          "object", Map.of("kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1",
              "metadata", pod.getMetadata())));
    }
    return Serialization.asJson(Map.of("kind", "Table", "apiVersion", "meta.k8s.io/v1",
        "metadata", Map.of("resourceVersion", resourceVersion),
        "columnDefinitions", List.of(column("Name", "name"), column("Status", ""), column("IP", ""),
            column("Node", ""), column("Age", "")),
        "rows", rows));
  }

  private static Map<String, Object> column(String name, String format) {
    return Map.of("name", name, "type", "string", "format", format, "description", name, "priority", 0);
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse().setResponseCode(code).setHeader("Content-Type", "application/json").setBody(body);
  }

  private static Map<String, String> discoveryDocuments() {
    Map<String, String> documents = new LinkedHashMap<>();
    documents.put("/version", Serialization.asJson(Map.of("major", "1", "minor", "32",
        "gitVersion", "v1.32.0-nodemesh-demo", "platform", "linux/amd64", "compiler", "gc")));
    documents.put("/api", Serialization.asJson(new APIVersionsBuilder().withVersions("v1").build()));
    Map<String, List<Served>> byGroup = SERVED.stream()
        .collect(Collectors.groupingBy(Served::group, LinkedHashMap::new, Collectors.toList()));
    var groups = new APIGroupListBuilder();
    byGroup.forEach((group, served) -> {
      String groupVersion = group.isEmpty() ? "v1" : group + "/v1";
      documents.put(group.isEmpty() ? "/api/v1" : "/apis/" + groupVersion, Serialization.asJson(
          new APIResourceListBuilder().withGroupVersion(groupVersion)
              .withResources(served.stream().flatMap(DemoApiDispatcher::apiResources).toList()).build()));
      if (!group.isEmpty()) {
        var version = new GroupVersionForDiscoveryBuilder().withGroupVersion(groupVersion).withVersion("v1").build();
        var apiGroup = new APIGroupBuilder().withName(group).withVersions(version).withPreferredVersion(version)
            .build();
        groups.addToGroups(apiGroup);
        documents.put("/apis/" + group, Serialization.asJson(apiGroup));
      }
    });
    documents.put("/apis", Serialization.asJson(groups.build()));
    // kubectl apply/create validate fields: client-side against /openapi/v2 schemas, unless the server's PATCH
    // operations take fieldValidation (server-side validation). The demo API declares the parameter and, like any
    // CRUD mock, validates nothing; without it kubectl refuses to apply ("failed to download openapi").
    Map<String, Object> openApiPaths = new LinkedHashMap<>();
    byGroup.forEach((group, served) -> {
      String groupPath = group.isEmpty() ? "api/v1" : "apis/" + group + "/v1";
      openApiPaths.put(groupPath, Map.of("serverRelativeURL", "/openapi/v3/" + groupPath));
      Map<String, Object> paths = new LinkedHashMap<>();
      for (Served one : served) {
        Map<String, Object> patch = Map.of(
            "x-kubernetes-group-version-kind", Map.of("group", group, "version", "v1", "kind", one.kind()),
            "parameters", List.of(Map.of("name", "fieldValidation", "in", "query", "schema", Map.of("type", "string"))),
            "responses", Map.of("200", Map.of("description", "OK")));
        paths.put("/" + groupPath + (one.namespaced() ? "/namespaces/{namespace}/" : "/") + one.plural() + "/{name}",
            Map.of("patch", patch));
      }
      documents.put("/openapi/v3/" + groupPath, Serialization.asJson(Map.of("openapi", "3.0.0",
          "info", Map.of("title", "nodemesh demo", "version", "v1.32.0"), "paths", paths)));
    });
    documents.put("/openapi/v3", Serialization.asJson(Map.of("paths", openApiPaths)));
    return Map.copyOf(documents);
  }

  private static java.util.stream.Stream<APIResource> apiResources(Served served) {
    APIResource resource = new APIResourceBuilder().withName(served.plural()).withSingularName(served.singular())
        .withKind(served.kind()).withNamespaced(served.namespaced()).withVerbs(VERBS)
        .withShortNames(served.shortNames()).build();
    if (!served.kind().equals("Pod")) {
      return java.util.stream.Stream.of(resource);
    }
    APIResource status = new APIResourceBuilder().withName("pods/status").withSingularName("")
        .withKind("Pod").withNamespaced(true).withVerbs("get", "patch", "update").build();
    return java.util.stream.Stream.of(resource, status);
  }
}
