package io.nodemesh.xds;

/**
 * The outcome of applying one batch.
 *
 * @param generation the store generation after the batch (unchanged when the batch changed nothing)
 * @param changedResources resources added or given a new version
 * @param removedResources resources removed
 * @param changedViews node view types (LDS or CDS name sets) that changed
 */
public record ApplyResult(long generation, int changedResources, int removedResources, int changedViews) {

  /** Whether the batch changed anything. */
  public boolean changed() {
    return changedResources + removedResources + changedViews > 0;
  }
}
