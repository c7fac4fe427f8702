package io.nodemesh.model;

import com.google.common.collect.ImmutableSortedMap;
import java.util.Objects;

/** A namespace and its labels (the mesh opt-in lives there). */
public record NamespaceInfo(String name, ImmutableSortedMap<String, String> labels) {

  public NamespaceInfo {
    Objects.requireNonNull(name, "name");
    labels = labels == null ? ImmutableSortedMap.of() : labels;
  }
}
