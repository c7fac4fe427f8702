package io.nodemesh.translate;

import com.google.common.collect.Sets;
import java.util.Set;

/**
 * The names of the resources a node's Envoys get: the node's own (its pods' listeners and clusters, the node
 * clusters) and the service layer its pods call. The service layer is one instance for every node whose pods
 * call the same service ports (every node with an unscoped pod), so a service change costs O(1) per node
 * instead of a copy of the catalogue's names. The two parts are disjoint: own names are per pod or per node
 * ({@code pod/...}, the node clusters), service-layer names per service port ({@code svc/...}, {@code dst/...}).
 */
public record NodeNames(NamesByType own, NamesByType serviceLayer) {

  /** No resources. */
  public static final NodeNames EMPTY = new NodeNames(NamesByType.EMPTY, NamesByType.EMPTY);

  /** Listener names, own first; a view, not a copy. */
  public Set<String> listeners() {
    return Sets.union(own.listeners(), serviceLayer.listeners());
  }

  /** Cluster names, own first; a view, not a copy. */
  public Set<String> clusters() {
    return Sets.union(own.clusters(), serviceLayer.clusters());
  }

  /** Endpoint (ClusterLoadAssignment) names, own first; a view, not a copy. */
  public Set<String> endpoints() {
    return Sets.union(own.endpoints(), serviceLayer.endpoints());
  }

  /** Route configuration names, own first; a view, not a copy. */
  public Set<String> routes() {
    return Sets.union(own.routes(), serviceLayer.routes());
  }
}
