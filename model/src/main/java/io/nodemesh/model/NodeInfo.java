package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import java.util.Objects;
import java.util.Optional;

/** A Kubernetes node: its topology (zone, region), readiness and addresses. */
public record NodeInfo(
    String name, Optional<String> zone, Optional<String> region, boolean ready, ImmutableList<String> addresses) {

  public NodeInfo {
    Objects.requireNonNull(name, "name");
    zone = zone == null ? Optional.empty() : zone;
    region = region == null ? Optional.empty() : region;
    addresses = addresses == null ? ImmutableList.of() : addresses;
  }

  public static NodeInfo of(String name, String zone) {
    return new NodeInfo(name, Optional.ofNullable(zone), Optional.empty(), true, ImmutableList.of());
  }
}
