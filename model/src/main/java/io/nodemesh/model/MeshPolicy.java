package io.nodemesh.model;

/**
 * Decides whether a pod is meshed (ARCHITECTURE.md §3): it must be on a node, have an IP, not use the host network,
 * not be in a terminal phase, be opted in (namespace or pod label, or mesh-all) and not opted out, and
 * have a valid network namespace path. Terminating pods stay meshed: they still talk during shutdown.
 */
public final class MeshPolicy {

  public static final String MESH_LABEL = "nodemesh.io/mesh";
  public static final String ENABLED = "enabled";
  public static final String DISABLED = "disabled";

  private MeshPolicy() {}

  /** The mesh decision for a pod; {@code namespace} may be null when the namespace is not (yet) known. */
  public static MeshStatus evaluate(PodInfo pod, NamespaceInfo namespace, MeshOptions options) {
    if (pod.nodeName().isEmpty()) {
      return MeshStatus.notMeshed("not scheduled to a node");
    }
    if (pod.hostNetwork()) {
      return MeshStatus.notMeshed("uses the host network");
    }
    if (pod.phase().terminal()) {
      return MeshStatus.notMeshed("terminal phase " + pod.phase());
    }
    if (DISABLED.equals(pod.labels().get(MESH_LABEL))) {
      return MeshStatus.notMeshed("opted out by pod label " + MESH_LABEL + "=" + DISABLED);
    }
    boolean optedIn =
        options.meshAllNamespaces()
            || ENABLED.equals(pod.labels().get(MESH_LABEL))
            || (namespace != null && ENABLED.equals(namespace.labels().get(MESH_LABEL)));
    if (!optedIn) {
      return MeshStatus.notMeshed(
          "not opted in: neither namespace " + pod.namespace() + " nor the pod has " + MESH_LABEL + "=" + ENABLED);
    }
    if (pod.ips().isEmpty()) {
      return MeshStatus.notMeshed("no pod IP yet");
    }
    return NetnsPaths.resolve(pod, options);
  }
}
