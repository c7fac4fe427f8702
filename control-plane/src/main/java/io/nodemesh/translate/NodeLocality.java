package io.nodemesh.translate;

import io.nodemesh.model.ClusterState;
import io.nodemesh.model.NodeInfo;
import java.util.Optional;

/**
 * Where a node's clients are, as far as trafficDistribution cares: the node's name and its (validated) zone.
 *
 * @param node the node; empty for a zone variant, whose clients are on any node of the zone
 * @param zone the node's zone label; empty when it has none (or an invalid one, which the model drops)
 */
public record NodeLocality(Optional<String> node, Optional<String> zone) {

  /** Nowhere: every service gets its base names. */
  public static final NodeLocality NONE = new NodeLocality(Optional.empty(), Optional.empty());

  public NodeLocality {
    node = node == null ? Optional.empty() : node;
    zone = zone == null ? Optional.empty() : zone;
  }

  /** The locality of {@code nodeName}: its zone if the node is known and has one. */
  public static NodeLocality of(ClusterState state, String nodeName) {
    return new NodeLocality(Optional.of(nodeName), state.node(nodeName).flatMap(NodeInfo::zone));
  }
}
