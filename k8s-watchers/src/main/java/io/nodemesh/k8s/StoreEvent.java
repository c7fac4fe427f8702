package io.nodemesh.k8s;

import com.google.common.collect.ImmutableMap;
import io.nodemesh.model.NodePin;
import java.util.Objects;

/** An informer observation queued for the store's writer; conversion already happened on the informer thread. */
sealed interface StoreEvent {

  /** An object was added or updated (or replayed by a resync) and converted. */
  record Upsert(ResourceKind kind, Object key, Converted<?> converted, long observedNanos) implements StoreEvent {
    public Upsert {
      Objects.requireNonNull(kind);
      Objects.requireNonNull(key);
      Objects.requireNonNull(converted);
    }
  }

  /** An object was deleted. */
  record Delete(ResourceKind kind, Object key, long observedNanos) implements StoreEvent {
    public Delete {
      Objects.requireNonNull(kind);
      Objects.requireNonNull(key);
    }
  }

  /**
   * An object could not be converted. {@code key} is null when the object cannot even be identified (no name or
   * namespace); {@code namespace}/{@code name} are whatever could be read, for the problem report.
   */
  record Reject(ResourceKind kind, Object key, String namespace, String name, String reason, long observedNanos)
      implements StoreEvent {
    public Reject {
      Objects.requireNonNull(kind);
      namespace = namespace == null ? "" : namespace;
      name = name == null ? "" : name;
      Objects.requireNonNull(reason);
    }
  }

  /** A node agent's full report of the pins on its node (already authorized for that node and validated). */
  record Pins(String node, ImmutableMap<String, NodePin> pins, long observedNanos) implements StoreEvent {
    public Pins {
      Objects.requireNonNull(node);
      Objects.requireNonNull(pins);
    }
  }

  /**
   * An informer for an {@link ResourceKind#optional() optional} kind was started, so the store waits for its
   * list too. Queued before the informer starts, hence before its {@link Listed}.
   */
  record Watched(ResourceKind kind) implements StoreEvent {}

  /** An informer finished a list (initial or relist); every object of that list was queued before this. */
  record Listed(ResourceKind kind) implements StoreEvent {}
}
