package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import java.util.Collection;

/**
 * The names a Kubernetes node's Envoys receive for their wildcard LDS and CDS subscriptions, in two disjoint
 * parts: the node's own names and a shared layer that many nodes hold as the same instance (the service
 * layer). A change of the shared layer then costs each node O(1) in the store and each stream only the names
 * that entered or left it ({@link LayerChange}). EDS and RDS are always requested by name, so they are not part
 * of a view.
 *
 * @param listeners the node's own listener names (its pods' listeners)
 * @param clusters the node's own cluster names (per-pod and per-node clusters)
 * @param sharedListeners listener names of the shared layer, none of them in {@code listeners}
 * @param sharedClusters cluster names of the shared layer, none of them in {@code clusters}
 */
public record NodeView(ImmutableSet<String> listeners, ImmutableSet<String> clusters,
    ImmutableSet<String> sharedListeners, ImmutableSet<String> sharedClusters) {

  public NodeView {
    for (String name : listeners) {
      if (sharedListeners.contains(name)) {
        throw new IllegalArgumentException("listener " + name + " is both the node's own and shared");
      }
    }
    for (String name : clusters) {
      if (sharedClusters.contains(name)) {
        throw new IllegalArgumentException("cluster " + name + " is both the node's own and shared");
      }
    }
  }

  /** A view with no resources. */
  public static final NodeView EMPTY = new NodeView(ImmutableSet.of(), ImmutableSet.of(), ImmutableSet.of(),
      ImmutableSet.of());

  /** Copies the given names into a view with no shared layer. */
  public static NodeView of(Collection<String> listeners, Collection<String> clusters) {
    return new NodeView(ImmutableSet.copyOf(listeners), ImmutableSet.copyOf(clusters), ImmutableSet.of(),
        ImmutableSet.of());
  }

  /** The view's own names for a per-node type; empty for EDS and RDS. */
  public ImmutableSet<String> names(ResourceType type) {
    return switch (type) {
      case LISTENER -> listeners;
      case CLUSTER -> clusters;
      case ENDPOINT, ROUTE -> ImmutableSet.of();
    };
  }

  /** The view's shared-layer names for a per-node type; empty for EDS and RDS. */
  public ImmutableSet<String> sharedNames(ResourceType type) {
    return switch (type) {
      case LISTENER -> sharedListeners;
      case CLUSTER -> sharedClusters;
      case ENDPOINT, ROUTE -> ImmutableSet.of();
    };
  }

  /** Whether the view holds the name for a per-node type, in either part. */
  public boolean contains(ResourceType type, String name) {
    return names(type).contains(name) || sharedNames(type).contains(name);
  }
}
