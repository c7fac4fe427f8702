package io.nodemesh.translate;

import io.nodemesh.model.TrafficDistribution;
import java.util.Objects;
import java.util.Optional;

/**
 * Which endpoints of a variant count as close to its clients (its node, its zone) and the variant's name suffix.
 *
 * @param suffix {@code @zone/{zone}} or {@code @node/{node}} ({@link ResourceNames#variant})
 * @param node PreferSameNode variants: the clients' node, whose endpoints come first
 * @param zone the clients' zone, whose endpoints come next (empty for a node without a zone)
 */
public record Proximity(String suffix, Optional<String> node, Optional<String> zone) {

  public Proximity {
    Objects.requireNonNull(suffix, "suffix");
    node = node == null ? Optional.empty() : node;
    zone = zone == null ? Optional.empty() : zone;
  }

  /** The variant shared by every client of {@code zone}. */
  public static Proximity ofZone(String zone) {
    return new Proximity(ResourceNames.zoneSuffix(zone), Optional.empty(), Optional.of(zone));
  }

  /** The variant of the clients on {@code node}, whose zone (if any) comes second. */
  public static Proximity ofNode(String node, Optional<String> zone) {
    return new Proximity(ResourceNames.nodeSuffix(node), Optional.of(node), zone);
  }

  /**
   * The variant a client at {@code where} gets for a service with {@code distribution}; empty: the base names
   * (no preference asked, or PreferSameZone from a node without a zone, or a zone variant asking for a
   * PreferSameNode service, whose node it cannot know).
   */
  public static Optional<Proximity> of(TrafficDistribution distribution, NodeLocality where) {
    return switch (distribution) {
      case NONE -> Optional.empty();
      case PREFER_SAME_ZONE -> where.zone().map(Proximity::ofZone);
      case PREFER_SAME_NODE -> where.node().map(node -> ofNode(node, where.zone()));
    };
  }

  /** Where this variant's clients are, for the variants of the services its routes send to. */
  public NodeLocality locality() {
    return new NodeLocality(node, zone);
  }
}
