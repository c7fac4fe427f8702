package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MapEntry;
import com.google.protobuf.Message;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.model.ClusterState;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * PGV cannot see a misspelled extension name or one too new for the Envoy we support: every extension name,
 * typed_config type URL and filter-state object factory that the translators emit, over every golden case
 * and a synthetic cluster in both bindings, must be listed in {@code envoy-extensions.tsv} (recorded from
 * Envoy's extension registry), and nothing listed may be newer than the minimum Envoy the docs state.
 */
class EmittedExtensionsTest {

  /** The minimum Envoy of the shared binding (docs/TRANSLATOR.md, the chart's version check). */
  private static final String MINIMUM_ENVOY = "1.38.0";
  private static final String TYPE_PREFIX = "type.googleapis.com/";

  @Test
  void everyExtensionWeEmitIsInEnvoysRegistryForOurMinimumVersion() throws IOException {
    Map<String, String> known = new TreeMap<>(); // name or "-" + type -> first release
    Set<String> knownTypes = new TreeSet<>();
    try (InputStream in = getClass().getResourceAsStream("/envoy-extensions.tsv")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] columns = line.split("\t");
        known.put(columns[0] + " " + columns[1], columns[2]);
        if (!columns[1].equals("-")) {
          knownTypes.add(columns[1]);
        }
      }
    }
    Set<String> emitted = new TreeSet<>();
    for (Message resource : allResources()) {
      walk(resource, emitted);
    }

    assertThat(emitted).as("emitted (name, type) pairs, filter-state factories and Any types")
        .allSatisfy(entry -> {
          if (entry.startsWith("any ")) {
            assertThat(knownTypes).contains(entry.substring(4));
          } else {
            assertThat(known).containsKey(entry);
          }
        });
    assertThat(known.keySet()).as("every listed extension is still emitted (remove what is not)")
        .allSatisfy(entry -> assertThat(emitted).contains(entry));
    assertThat(known.values()).allSatisfy(release ->
        assertThat(compare(release, MINIMUM_ENVOY)).as(release + " <= " + MINIMUM_ENVOY).isLessThanOrEqualTo(0));
  }

  private static List<Message> allResources() throws IOException {
    List<Message> all = new ArrayList<>();
    List<ClusterState> states = new ArrayList<>();
    List<TranslatorOptions> options = new ArrayList<>();
    try (Stream<Path> files = Files.list(Paths.get("src", "test", "resources", "golden"))) {
      for (Path file : files.filter(path -> path.toString().endsWith(".in.yaml")).sorted().toList()) {
        GoldenInput input = GoldenInput.read(file);
        states.add(input.state());
        options.add(input.translatorOptions());
      }
    }
    for (UpstreamBinding binding : UpstreamBinding.values()) {
      states.add(SyntheticCluster.build(2, 3, 4));
      options.add(TranslatorOptions.DEFAULTS.withUpstreamBinding(binding));
    }
    for (int i = 0; i < states.size(); i++) {
      SharedResources shared = SharedResources.translate(states.get(i), options.get(i));
      all.addAll(shared.proxylessListeners().values());
      all.addAll(shared.clusters().values());
      for (NodeResources node : NodeTranslator.translateAll(states.get(i), options.get(i))) {
        all.addAll(node.listeners().values());
        all.addAll(node.clusters().values());
        all.addAll(node.endpoints().values());
        all.addAll(node.routes().values());
      }
    }
    return all;
  }

  /** Records extension (name, type) pairs, set_filter_state factories and every Any's type, recursively. */
  private static void walk(Message message, Set<String> emitted) {
    if (message instanceof Any any) {
      String type = any.getTypeUrl().substring(TYPE_PREFIX.length());
      emitted.add("any " + type);
      try {
        walk(EnvoyTypes.unpack(any), emitted);
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError("cannot unpack " + any.getTypeUrl(), e);
      }
      return;
    }
    FieldDescriptor name = message.getDescriptorForType().findFieldByName("name");
    FieldDescriptor typedConfig = message.getDescriptorForType().findFieldByName("typed_config");
    if (name != null && typedConfig != null && message.hasField(typedConfig)) {
      emitted.add(message.getField(name) + " " + typeOf((Any) message.getField(typedConfig)));
    }
    if (message.getDescriptorForType().getFullName()
        .equals("envoy.extensions.filters.common.set_filter_state.v3.FilterStateValue")) {
      String factory = (String) message.getField(message.getDescriptorForType().findFieldByName("factory_key"));
      String key = (String) message.getField(message.getDescriptorForType().findFieldByName("object_key"));
      emitted.add((factory.isEmpty() ? key : factory) + " -");
    }
    for (Map.Entry<FieldDescriptor, Object> field : message.getAllFields().entrySet()) {
      if (field.getKey().getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      Iterable<?> values = field.getKey().isRepeated() ? (List<?>) field.getValue() : ImmutableList.of(field.getValue());
      for (Object value : values) {
        if (value instanceof MapEntry<?, ?> entry && entry.getValue() instanceof Any any) {
          emitted.add(entry.getKey() + " " + typeOf(any)); // typed_extension_protocol_options
        }
        walk((Message) value, emitted);
      }
    }
  }

  private static String typeOf(Any any) {
    return any.getTypeUrl().substring(TYPE_PREFIX.length());
  }

  private static int compare(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < 3; i++) {
      int diff = Integer.compare(Integer.parseInt(x[i]), Integer.parseInt(y[i]));
      if (diff != 0) {
        return diff;
      }
    }
    return 0;
  }
}
