package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import java.util.Objects;

/**
 * A model object converted from a Kubernetes object, with the parts of the input that were dropped and why.
 *
 * @param value the model object (mesh status unevaluated; the model computes it)
 * @param problems reasons for dropped or repaired parts, each to become a {@code Problem} of the object
 */
public record Converted<T>(T value, ImmutableList<String> problems) {

  public Converted {
    Objects.requireNonNull(value, "value");
    problems = problems == null ? ImmutableList.of() : problems;
  }
}
