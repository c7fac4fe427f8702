package io.nodemesh.xds;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.common.collect.ImmutableSetMultimap;

/**
 * What one applied batch changed: per type the names whose version changed, appeared or disappeared, and
 * per node the view types (LDS, CDS) whose name set changed. Names whose version stayed the same are not
 * listed, so a no-op re-put of identical content notifies nobody.
 *
 * @param generation the generation of the snapshot this change produced
 * @param changedNames per type, names added, replaced with a new version, or removed
 * @param changedViews node name -> view types whose name set changed (a removed node lists both)
 */
public record StoreChange(
    long generation,
    ImmutableMap<ResourceType, ImmutableSet<String>> changedNames,
    ImmutableSetMultimap<String, ResourceType> changedViews) {

  /** Names of that type that changed (empty when none). */
  public ImmutableSet<String> changed(ResourceType type) {
    ImmutableSet<String> names = changedNames.get(type);
    return names == null ? ImmutableSet.of() : names;
  }

  /** Whether the batch changed nothing at all. */
  public boolean isEmpty() {
    return changedNames.isEmpty() && changedViews.isEmpty();
  }
}
