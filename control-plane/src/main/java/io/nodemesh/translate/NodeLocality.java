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

  /**
   * The locality of {@code nodeName}: the node and its zone if it has one; {@link #NONE} for a node the state
   * does not hold yet (pods can arrive before their Node), since variants exist only for the nodes it holds.
   */
  public static NodeLocality of(ClusterState state, String nodeName) {
    return state.node(nodeName).map(node -> new NodeLocality(Optional.of(node.name()), node.zone())).orElse(NONE);
  }
}
