package io.nodemesh.translate;

/** How upstream connections are made to leave from the calling pod's network namespace (ARCHITECTURE.md §5). */
public enum UpstreamBinding {
  /**
   * The shared service layer (docs/TRANSLATOR.md): clusters, internal listeners and routes per service port,
   * shared by all pods and nodes; each connection carries the pod's netns in filter state (hashable, so
   * connection pools partition per pod). Needs Envoy >= 1.38 (the envoy.hashable_string factory).
   */
  SHARED,
  /** One cluster per (pod, service port) bound to the pod IP inside the pod netns. Envoy 1.36 compatible. */
  PER_POD
}
