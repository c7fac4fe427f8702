package io.nodemesh.k8s;

import io.nodemesh.model.ClusterState;
import java.util.Objects;

/**
 * A fully applied cluster state and what changed since the previous update a subscriber saw.
 *
 * @param state the immutable snapshot; never half-applied
 * @param change what moved since the subscriber's previous update
 * @param generation increases by one per state the store publishes; a debounced update carries the latest
 */
public record StateUpdate(ClusterState state, Change change, long generation) {

  public StateUpdate {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(change, "change");
  }

}
