package io.nodemesh.model;

import java.util.Comparator;

/** Something in the input that was skipped or repaired, with the reason: shown to operators, never thrown. */
public record Problem(String kind, String namespace, String name, String reason) implements Comparable<Problem> {

  private static final Comparator<Problem> ORDER =
      Comparator.comparing(Problem::kind)
          .thenComparing(Problem::namespace)
          .thenComparing(Problem::name)
          .thenComparing(Problem::reason);

  public Problem {
    kind = kind == null ? "" : kind;
    namespace = namespace == null ? "" : namespace;
    name = name == null ? "" : name;
    reason = reason == null ? "" : reason;
  }

  @Override
  public int compareTo(Problem other) {
    return ORDER.compare(this, other);
  }
}
