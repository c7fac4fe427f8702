package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * One immutable state of the store: every resource by (type, name) and every node's view, stamped with a
 * generation that grows by one for each batch that changed something. Thread-safe.
 */
public final class StoreSnapshot {

  static final StoreSnapshot EMPTY =
      new StoreSnapshot(
          0,
          new ResourceTable[] {
            ResourceTable.EMPTY, ResourceTable.EMPTY, ResourceTable.EMPTY, ResourceTable.EMPTY
          },
          ImmutableMap.of());

  private final long generation;
  private final ResourceTable[] tables;
  private final ImmutableMap<String, NodeView> nodes;

  StoreSnapshot(long generation, ResourceTable[] tables, ImmutableMap<String, NodeView> nodes) {
    this.generation = generation;
    this.tables = tables;
    this.nodes = nodes;
  }

  /** Generation of this snapshot; 0 is the empty store. */
  public long generation() {
    return generation;
  }

  /** The resource of that type and name, if present. */
  public Optional<Resource> get(ResourceType type, String name) {
    return Optional.ofNullable(tables[type.ordinal()].get(name));
  }

  /** A node's view, if the node is known. */
  public Optional<NodeView> node(String nodeName) {
    return Optional.ofNullable(nodes.get(nodeName));
  }

  /** Every known node's view. */
  public ImmutableMap<String, NodeView> nodes() {
    return nodes;
  }

  /** Number of resources of a type. */
  public int size(ResourceType type) {
    return tables[type.ordinal()].size();
  }

  /** Every resource of a type, sorted by name (O(n): for debug endpoints, not the push path). */
  public ImmutableList<Resource> resources(ResourceType type) {
    List<Resource> all = new ArrayList<>(size(type));
    tables[type.ordinal()].forEach(all::add);
    all.sort(Comparator.comparing(Resource::name));
    return ImmutableList.copyOf(all);
  }

  ResourceTable table(ResourceType type) {
    return tables[type.ordinal()];
  }

  /** The table of {@code type} as {@code who} is served it (its locality's listeners under the names it asks). */
  ResourceTable tableFor(ResourceType type, NodeIdentity who) {
    return table(type).servedWith(who.localPrefixes(type));
  }

  /** A node's view, or the empty view for an unknown node. */
  NodeView viewOrEmpty(String nodeName) {
    NodeView view = nodes.get(nodeName);
    return view == null ? NodeView.EMPTY : view;
  }
}
