package io.nodemesh.k8s;

/** The Kubernetes kinds the control plane watches; {@link #kindName()} is the name used in {@code Problem}s. */
public enum ResourceKind {
  POD("Pod", true),
  SERVICE("Service", true),
  ENDPOINT_SLICE("EndpointSlice", true),
  NODE("Node", false),
  NAMESPACE("Namespace", false),
  /** gateway.networking.k8s.io/v1, watched only when the API server serves it (its CRD is installed). */
  HTTP_ROUTE("HTTPRoute", true, true),
  /** gateway.networking.k8s.io/v1, watched only when the API server serves it (its CRD is installed). */
  GRPC_ROUTE("GRPCRoute", true, true);

  private final String kindName;
  private final boolean namespaced;
  private final boolean optional;

  ResourceKind(String kindName, boolean namespaced) {
    this(kindName, namespaced, false);
  }

  ResourceKind(String kindName, boolean namespaced, boolean optional) {
    this.kindName = kindName;
    this.namespaced = namespaced;
    this.optional = optional;
  }

  /** The Kubernetes kind, e.g. {@code EndpointSlice}. */
  public String kindName() {
    return kindName;
  }

  /** Namespaced kinds are keyed by {@code ObjectKey} (routes by {@code MeshRoute.Key}), cluster-scoped ones by name. */
  public boolean namespaced() {
    return namespaced;
  }

  /**
   * Kinds a cluster may not serve (CRDs): the store waits for their first list only once an informer for them
   * was started ({@code StoreEvent.Watched}); every other kind it always waits for.
   */
  public boolean optional() {
    return optional;
  }
}
