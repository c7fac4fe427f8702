package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import java.util.Collection;

/**
 * The names a Kubernetes node's Envoys receive for their wildcard LDS and CDS subscriptions. EDS and RDS
 * are always requested by name, so they are not part of a view.
 *
 * @param listeners listener names served to the node (its pods' listeners)
 * @param clusters cluster names served to the node (shared and per-pod clusters)
 */
public record NodeView(ImmutableSet<String> listeners, ImmutableSet<String> clusters) {

  /** A view with no resources. */
  public static final NodeView EMPTY = new NodeView(ImmutableSet.of(), ImmutableSet.of());

  /** Copies the given names into a view. */
  public static NodeView of(Collection<String> listeners, Collection<String> clusters) {
    return new NodeView(ImmutableSet.copyOf(listeners), ImmutableSet.copyOf(clusters));
  }

  /** The view's names for a per-node type; empty for EDS and RDS. */
  public ImmutableSet<String> names(ResourceType type) {
    return switch (type) {
      case LISTENER -> listeners;
      case CLUSTER -> clusters;
      case ENDPOINT, ROUTE -> ImmutableSet.of();
    };
  }
}
