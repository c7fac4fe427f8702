package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.google.common.collect.ImmutableList;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.Problem;
import io.nodemesh.model.RouteResolution;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden files (ARCHITECTURE.md §9): {@code golden/<case>.in.yaml} (the model) translates to exactly
 * {@code golden/<case>.out.yaml}, and every generated resource, including what sits in its typed_config,
 * passes Envoy's PGV rules. Run with {@code -Dgolden.update=true} to rewrite the outputs; review the diff.
 */
class GoldenFilesTest {

  private static final Path GOLDEN_DIR = Paths.get("src", "test", "resources", "golden");
  private static final boolean UPDATE = Boolean.parseBoolean(System.getProperty("golden.update", "false"));
  private static final ObjectMapper OUTPUT_YAML =
      new ObjectMapper(new YAMLFactory()
          .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
          .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));
  private static final ObjectMapper JSON = new ObjectMapper();

  static Stream<String> cases() throws IOException {
    try (Stream<Path> files = Files.list(GOLDEN_DIR)) {
      return files
          .map(path -> path.getFileName().toString())
          .filter(name -> name.endsWith(".in.yaml"))
          .map(name -> name.substring(0, name.length() - ".in.yaml".length()))
          .sorted()
          .toList()
          .stream();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void translationMatchesTheGoldenFileAndPassesEnvoyValidation(String name) throws IOException {
    GoldenInput input = GoldenInput.read(GOLDEN_DIR.resolve(name + ".in.yaml"));
    ClusterState state = input.state();
    TranslatorOptions options = input.translatorOptions();
    SharedResources shared = SharedResources.translate(state, options);
    NodeResources node = NodeTranslator.translate(state, input.node(), options, shared);

    List<Message> all = new ArrayList<>();
    all.addAll(node.listeners().values());
    all.addAll(node.clusters().values());
    all.addAll(node.endpoints().values());
    all.addAll(node.routes().values());
    if (input.proxyless()) {
      all.addAll(shared.proxylessListeners().values());
      all.addAll(shared.clusters().values());
      all.addAll(shared.endpoints().values());
      all.addAll(shared.routes().values());
    }
    for (Message resource : all) {
      assertThat(EnvoyValidator.violations(resource))
          .as("PGV violations of %s in case %s", resource.getDescriptorForType().getName(), name)
          .isEmpty();
    }

    String actual = render(input, state, node, shared, all);
    Path golden = GOLDEN_DIR.resolve(name + ".out.yaml");
    if (UPDATE || !Files.exists(golden)) {
      Files.writeString(golden, actual, StandardCharsets.UTF_8);
    }
    assertThat(actual)
        .as("golden file %s (regenerate with -Dgolden.update=true and review the diff)", golden)
        .isEqualTo(Files.readString(golden, StandardCharsets.UTF_8));
  }

  private static String render(
      GoldenInput input, ClusterState state, NodeResources node, SharedResources shared, List<Message> all)
      throws IOException {
    JsonFormat.Printer printer = EnvoyTypes.jsonPrinter(all);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", input.node());
    Map<String, String> pods = new LinkedHashMap<>();
    for (PodInfo pod : state.podsOnNode(input.node())) {
      pods.put(pod.key().toString(), pod.mesh().meshed()
          ? "meshed, netns " + pod.mesh().netnsPath().orElseThrow()
          : "not meshed: " + pod.mesh().reason());
    }
    out.put("pods", pods);
    List<String> problems = new ArrayList<>();
    for (Problem problem : state.problems()) {
      String object = problem.namespace().isEmpty() ? problem.name() : problem.namespace() + "/" + problem.name();
      problems.add(problem.kind() + " " + object + ": " + problem.reason());
    }
    node.podProblems().forEach((pod, problem) -> problems.add("Pod " + pod + ": " + problem));
    shared.serviceProblems().forEach((svc, problem) -> problems.add("Service " + svc + ": " + problem));
    out.put("problems", problems);
    if (!state.routes().isEmpty()) {
      Map<String, List<String>> statuses = new LinkedHashMap<>();
      RouteResolution.statuses(state, PortProtocol::carriesHttp)
          .forEach((route, parents) -> statuses.put(route.toString(), parents.stream()
              .flatMap(parent -> parent.conditions().stream().map(c -> parent.parent().service() + ":"
                  + parent.parent().port() + " " + c.type() + "=" + (c.status() ? "True" : "False") + " ("
                  + c.reason() + "): " + c.message()))
              .toList()));
      out.put("route_status", statuses);
    }
    out.put("listeners", print(printer, node.listeners().values()));
    out.put("clusters", print(printer, node.clusters().values()));
    out.put("endpoints", print(printer, node.endpoints().values()));
    out.put("routes", print(printer, node.routes().values()));
    if (input.proxyless()) {
      Map<String, Object> proxyless = new LinkedHashMap<>();
      proxyless.put("listeners", print(printer, shared.proxylessListeners().values()));
      proxyless.put("routes", print(printer, shared.routes().values()));
      proxyless.put("clusters", print(printer, shared.clusters().values()));
      proxyless.put("endpoints", print(printer, shared.endpoints().values()));
      out.put("proxyless", proxyless);
    }
    return OUTPUT_YAML.writeValueAsString(out);
  }

  private static List<JsonNode> print(JsonFormat.Printer printer, Iterable<? extends Message> messages)
      throws InvalidProtocolBufferException, IOException {
    ImmutableList.Builder<JsonNode> printed = ImmutableList.builder();
    for (Message message : messages) {
      printed.add(JSON.readTree(printer.print(message)));
    }
    return printed.build();
  }
}
