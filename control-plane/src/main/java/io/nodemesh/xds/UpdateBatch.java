package io.nodemesh.xds;

import com.google.common.collect.ImmutableMap;
import com.google.protobuf.Message;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * An immutable set of changes the store applies atomically: resources put or removed, and node views set
 * or removed. Later changes to the same key in one builder win. Resources are serialised while the batch
 * is built, in the caller's thread, so the store's single writer only compares versions.
 */
public final class UpdateBatch {

  private final ImmutableMap<ResourceType, ImmutableMap<String, Optional<Resource>>> resources;
  private final ImmutableMap<String, Optional<NodeView>> nodes;

  private UpdateBatch(Builder builder) {
    ImmutableMap.Builder<ResourceType, ImmutableMap<String, Optional<Resource>>> byType = ImmutableMap.builder();
    builder.resources.forEach((type, changes) -> byType.put(type, ImmutableMap.copyOf(changes)));
    this.resources = byType.build();
    this.nodes = ImmutableMap.copyOf(builder.nodes);
  }

  /** A new, empty builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Per type: name -> the new resource, or empty for a removal. */
  ImmutableMap<ResourceType, ImmutableMap<String, Optional<Resource>>> resources() {
    return resources;
  }

  /** Node name -> its new view, or empty when the node goes away. */
  ImmutableMap<String, Optional<NodeView>> nodes() {
    return nodes;
  }

  /** Whether the batch changes nothing. */
  public boolean isEmpty() {
    return resources.isEmpty() && nodes.isEmpty();
  }

  @Override
  public String toString() {
    int count = resources.values().stream().mapToInt(Map::size).sum();
    return "UpdateBatch{resources=" + count + ", nodes=" + nodes.size() + "}";
  }

  /** Collects changes; not thread-safe. */
  public static final class Builder {
    private final Map<ResourceType, Map<String, Optional<Resource>>> resources = new EnumMap<>(ResourceType.class);
    private final Map<String, Optional<NodeView>> nodes = new LinkedHashMap<>();

    private Builder() {}

    /** Puts a resource (Listener, Cluster, ClusterLoadAssignment or RouteConfiguration). */
    public Builder put(Message message) {
      return put(Resource.of(message));
    }

    /** Puts an already prepared resource. */
    public Builder put(Resource resource) {
      resources
          .computeIfAbsent(resource.type(), t -> new LinkedHashMap<>())
          .put(resource.name(), Optional.of(resource));
      return this;
    }

    /** Removes a resource; removing a name the store does not hold is a no-op. */
    public Builder remove(ResourceType type, String name) {
      resources.computeIfAbsent(type, t -> new LinkedHashMap<>()).put(name, Optional.empty());
      return this;
    }

    /** Sets the LDS and CDS names a node's Envoys receive, replacing the previous view. */
    public Builder putNode(String nodeName, Collection<String> listeners, Collection<String> clusters) {
      return putNode(nodeName, NodeView.of(listeners, clusters));
    }

    /** Sets a node's view, replacing the previous one. */
    public Builder putNode(String nodeName, NodeView view) {
      nodes.put(nodeName, Optional.of(view));
      return this;
    }

    /** Removes a node: its Envoys' wildcard LDS and CDS become empty. */
    public Builder removeNode(String nodeName) {
      nodes.put(nodeName, Optional.empty());
      return this;
    }

    /** The immutable batch. */
    public UpdateBatch build() {
      return new UpdateBatch(this);
    }
  }
}
