package io.nodemesh.model;

/** A service's {@code spec.trafficDistribution}: whether clients reach endpoints close to them first. */
public enum TrafficDistribution {
  /** No preference (the field unset, or a value this control plane does not know). */
  NONE,
  /** The client's zone first, then the rest: Kubernetes' {@code PreferClose} and {@code PreferSameZone}. */
  PREFER_SAME_ZONE,
  /** The client's node first, then its zone, then the rest. */
  PREFER_SAME_NODE;

  /** Whether the service asks for endpoints close to the client. */
  public boolean asks() {
    return this != NONE;
  }
}
