package io.nodemesh.model;

import java.util.Objects;
import java.util.Optional;

/** Whether a pod gets per-pod mesh config and, if not, why not; with its validated netns path. */
public record MeshStatus(boolean meshed, String reason, Optional<String> netnsPath) {

  /** The status of a pod that the model has not evaluated yet (e.g. straight out of a converter). */
  public static final MeshStatus UNEVALUATED = new MeshStatus(false, "not evaluated", Optional.empty());

  public MeshStatus {
    Objects.requireNonNull(reason, "reason");
    netnsPath = netnsPath == null ? Optional.empty() : netnsPath;
    if (meshed && netnsPath.isEmpty()) {
      throw new IllegalArgumentException("a meshed pod needs a netns path");
    }
  }

  public static MeshStatus meshed(String netnsPath) {
    return new MeshStatus(true, "meshed", Optional.of(netnsPath));
  }

  public static MeshStatus notMeshed(String reason) {
    return new MeshStatus(false, reason, Optional.empty());
  }
}
