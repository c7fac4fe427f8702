package io.nodemesh.k8s;

/** The Kubernetes kinds the control plane watches; {@link #kindName()} is the name used in {@code Problem}s. */
public enum ResourceKind {
  POD("Pod", true),
  SERVICE("Service", true),
  ENDPOINT_SLICE("EndpointSlice", true),
  NODE("Node", false),
  NAMESPACE("Namespace", false);

  private final String kindName;
  private final boolean namespaced;

  ResourceKind(String kindName, boolean namespaced) {
    this.kindName = kindName;
    this.namespaced = namespaced;
  }

  /** The Kubernetes kind, e.g. {@code EndpointSlice}. */
  public String kindName() {
    return kindName;
  }

  /** Namespaced kinds are keyed by {@code ObjectKey}, cluster-scoped ones by name. */
  public boolean namespaced() {
    return namespaced;
  }
}
