package io.nodemesh.helm;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/** The objects of one {@code helm template} output, parsed into fabric8's typed model classes. */
final class Manifests {

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
  private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

  private final String text;
  private final List<HasMetadata> objects;

  private Manifests(String text, List<HasMetadata> objects) {
    this.text = text;
    this.objects = List.copyOf(objects);
  }

  static Manifests parse(String text) {
    List<HasMetadata> objects = new ArrayList<>();
    for (String document : DOCUMENT_SEPARATOR.split(text)) {
      if (document.lines().allMatch(line -> line.isBlank() || line.stripLeading().startsWith("#"))) {
        continue;
      }
      Object parsed = SERIALIZATION.unmarshal(document);
      if (!(parsed instanceof HasMetadata object)) {
        throw new IllegalArgumentException("not a Kubernetes object:\n" + document);
      }
      objects.add(object);
    }
    return new Manifests(text, objects);
  }

  /** Whether a matchLabels selector selects an object with these labels. */
  static boolean selects(Map<String, String> selector, Map<String, String> labels) {
    return !selector.isEmpty() && labels != null && labels.entrySet().containsAll(selector.entrySet());
  }

  String text() {
    return text;
  }

  List<HasMetadata> all() {
    return objects;
  }

  /** All objects of a typed kind. */
  <T extends HasMetadata> List<T> all(Class<T> kind) {
    return objects.stream().filter(kind::isInstance).map(kind::cast).toList();
  }

  /** The single object of a typed kind; fails if there are none or several. */
  <T extends HasMetadata> T one(Class<T> kind) {
    List<T> found = all(kind);
    if (found.size() != 1) {
      throw new AssertionError("expected exactly one " + kind.getSimpleName() + ", found " + found.size());
    }
    return found.get(0);
  }

  /** The object of a typed kind with that name; fails if absent. */
  <T extends HasMetadata> T named(Class<T> kind, String name) {
    return all(kind).stream()
        .filter(object -> name.equals(object.getMetadata().getName()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind.getSimpleName() + " named " + name));
  }

  /** An object of a kind fabric8 has no class for (e.g. a ServiceMonitor), by apiVersion and kind. */
  Optional<GenericKubernetesResource> generic(String apiVersion, String kind) {
    return all(GenericKubernetesResource.class).stream()
        .filter(object -> apiVersion.equals(object.getApiVersion()) && kind.equals(object.getKind()))
        .findFirst();
  }
}
