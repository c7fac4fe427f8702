package io.nodemesh.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.nodemesh.api.envoy.EnvoyTypes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rebuilds the bootstrap a node Envoy actually runs with: the ConfigMap's file, with the {@code --config-yaml}
 * argument merged over it exactly as Envoy does ({@code Bootstrap.MergeFrom}) after Kubernetes expanded its
 * {@code $(VAR)} references from the container's downward-API environment.
 */
final class EnvoyBootstrap {

  private static final ObjectMapper YAML = new YAMLMapper();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern VAR_REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  private EnvoyBootstrap() {}

  /** Parses Envoy YAML (the bootstrap file or an override) into a {@link Bootstrap}, resolving every typed_config. */
  static Bootstrap parse(String yaml) {
    try {
      JsonNode tree = YAML.readTree(yaml);
      JsonFormat.TypeRegistry.Builder registry = JsonFormat.TypeRegistry.newBuilder();
      Map<String, Descriptor> types = new LinkedHashMap<>();
      collectTypes(tree, types);
      registry.add(types.values());
      Bootstrap.Builder bootstrap = Bootstrap.newBuilder();
      JsonFormat.parser().usingTypeRegistry(registry.build()).merge(JSON.writeValueAsString(tree), bootstrap);
      return bootstrap.build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The effective bootstrap of an Envoy container whose downward-API fields ({@code metadata.name},
   * {@code spec.nodeName}, ...) have the given values.
   */
  static Bootstrap effective(ConfigMap configMap, Container envoy, Map<String, String> fieldValues) {
    List<String> args = envoy.getArgs();
    String configPath = argument(args, "--config-path");
    String file = configMap.getData().get(configPath.substring(configPath.lastIndexOf('/') + 1));
    if (file == null) {
      throw new AssertionError("--config-path " + configPath + " names no key of ConfigMap " + configMap.getMetadata().getName());
    }
    Bootstrap.Builder bootstrap = parse(file).toBuilder();
    String override = expand(argument(args, "--config-yaml"), environment(envoy, fieldValues));
    bootstrap.mergeFrom(parse(override));
    return bootstrap.build();
  }

  /** The value following a flag in an argument list. */
  static String argument(List<String> args, String flag) {
    int index = args.indexOf(flag);
    if (index < 0 || index + 1 >= args.size()) {
      throw new AssertionError("no value for " + flag + " in " + args);
    }
    return args.get(index + 1);
  }

  /** Kubernetes' {@code $(VAR)} expansion, strict: a reference to an undefined variable fails the test. */
  static String expand(String value, Map<String, String> environment) {
    Matcher matcher = VAR_REFERENCE.matcher(value);
    StringBuilder expanded = new StringBuilder();
    while (matcher.find()) {
      String name = matcher.group(1);
      String replacement = environment.get(name);
      if (replacement == null) {
        throw new AssertionError("$(" + name + ") is not defined in the container's env, Kubernetes would leave it as is");
      }
      matcher.appendReplacement(expanded, Matcher.quoteReplacement(replacement));
    }
    matcher.appendTail(expanded);
    return expanded.toString();
  }

  private static Map<String, String> environment(Container container, Map<String, String> fieldValues) {
    Map<String, String> environment = new HashMap<>();
    for (EnvVar env : container.getEnv()) {
      if (env.getValue() != null) {
        environment.put(env.getName(), env.getValue());
      } else if (env.getValueFrom() != null && env.getValueFrom().getFieldRef() != null) {
        String path = env.getValueFrom().getFieldRef().getFieldPath();
        String value = fieldValues.get(path);
        if (value == null) {
          throw new AssertionError("the test gives no value for downward-API field " + path);
        }
        environment.put(env.getName(), value);
      }
    }
    return environment;
  }

  private static void collectTypes(JsonNode node, Map<String, Descriptor> types) {
    if (node.isObject()) {
      JsonNode type = node.get("@type");
      if (type != null && type.isTextual()) {
        Descriptor descriptor = EnvoyTypes.descriptorFor(type.asText())
            .orElseThrow(() -> new IllegalArgumentException("unknown Envoy type " + type.asText()));
        types.putIfAbsent(type.asText(), descriptor);
      }
      node.elements().forEachRemaining(child -> collectTypes(child, types));
    } else if (node.isArray()) {
      node.elements().forEachRemaining(child -> collectTypes(child, types));
    }
  }
}
