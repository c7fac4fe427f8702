package io.nodemesh.xds;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.common.collect.ImmutableSetMultimap;
import com.google.common.collect.Interner;
import com.google.common.collect.Interners;
import io.grpc.SynchronizationContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The global resource table (type, name) -> {@link Resource} plus every node's LDS/CDS view.
 *
 * <p>Threading: all mutation happens in one {@link SynchronizationContext}; {@link #apply} may be called
 * from any thread and runs the batch in that context (in the caller's thread when the context is idle).
 * Readers get immutable {@link StoreSnapshot}s. Listeners are called in the context, after the new
 * snapshot is published, and must only do cheap work (mark streams dirty).
 */
public final class ResourceStore {

  private static final Logger log = LoggerFactory.getLogger(ResourceStore.class);

  /** Receives each non-empty change, in the store's context, after the snapshot is visible. */
  public interface ChangeListener {
    /** Called once per batch that changed something. */
    void onChange(StoreSnapshot snapshot, StoreChange change);
  }

  private final SynchronizationContext context =
      new SynchronizationContext((thread, error) -> log.error("resource store task failed", error));

  /**
   * Node views are mostly equal across nodes (shared clusters): interning keeps one copy per distinct
   * set and makes "same view" an identity check for streams.
   */
  private final Interner<ImmutableSet<String>> names = Interners.newWeakInterner();

  private final LayerChange layerChanges = new LayerChange();
  private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();
  private volatile StoreSnapshot current = StoreSnapshot.EMPTY;

  /** The latest snapshot. */
  public StoreSnapshot snapshot() {
    return current;
  }

  /** The names that entered or left a shared layer of node views, remembered for the many streams that ask. */
  LayerChange layerChanges() {
    return layerChanges;
  }

  /** Registers a listener for future changes. */
  public void addListener(ChangeListener listener) {
    listeners.add(listener);
  }

  /** Stops notifying a listener. */
  public void removeListener(ChangeListener listener) {
    listeners.remove(listener);
  }

  /**
   * Applies a batch atomically: readers see all of it or none of it. Completes once the new snapshot is
   * published and listeners were told. Batches apply in the order their calls entered the context.
   */
  public CompletableFuture<ApplyResult> apply(UpdateBatch batch) {
    return apply(batch, generation -> {});
  }

  /**
   * {@link #apply(UpdateBatch)}, calling {@code beforePublish} with the new generation before any reader or stream
   * can see it: what must be known about a generation when the first response carrying it goes out (e.g. the
   * Kubernetes event time that convergence is measured from) is recorded there, not after the streams woke.
   */
  public CompletableFuture<ApplyResult> apply(UpdateBatch batch, LongConsumer beforePublish) {
    CompletableFuture<ApplyResult> result = new CompletableFuture<>();
    context.execute(
        () -> {
          try {
            result.complete(applyInContext(batch, beforePublish));
          } catch (RuntimeException e) {
            result.completeExceptionally(e);
            log.error("failed to apply {}", batch, e);
          }
        });
    return result;
  }

  private ApplyResult applyInContext(UpdateBatch batch, LongConsumer beforePublish) {
    context.throwIfNotInThisSynchronizationContext();
    StoreSnapshot previous = current;
    long generation = previous.generation() + 1;
    int changed = 0;
    int removed = 0;

    ResourceTable[] tables = new ResourceTable[ResourceType.all().length];
    ImmutableMap.Builder<ResourceType, ImmutableSet<String>> changedNames = ImmutableMap.builder();
    for (ResourceType type : ResourceType.all()) {
      ResourceTable table = previous.table(type);
      ImmutableMap<String, Optional<Resource>> requested = batch.resources().get(type);
      Map<String, Resource> effective = new HashMap<>();
      if (requested != null) {
        for (Map.Entry<String, Optional<Resource>> entry : requested.entrySet()) {
          Resource old = table.get(entry.getKey());
          Optional<Resource> next = entry.getValue();
          if (next.isPresent()) {
            if (!next.get().sameContent(old)) {
              effective.put(entry.getKey(), next.get().withGeneration(generation));
              changed++;
            }
          } else if (old != null) {
            effective.put(entry.getKey(), null);
            removed++;
          }
        }
      }
      tables[type.ordinal()] = table.with(effective);
      if (!effective.isEmpty()) {
        changedNames.put(type, ImmutableSet.copyOf(effective.keySet()));
      }
    }

    Map<String, NodeView> nodes = new HashMap<>(previous.nodes());
    ImmutableSetMultimap.Builder<String, ResourceType> changedViews = ImmutableSetMultimap.builder();
    int viewChanges = 0;
    for (Map.Entry<String, Optional<NodeView>> entry : batch.nodes().entrySet()) {
      String node = entry.getKey();
      NodeView old = previous.viewOrEmpty(node);
      NodeView next = entry.getValue().map(this::intern).orElse(NodeView.EMPTY);
      for (ResourceType type : new ResourceType[] {ResourceType.LISTENER, ResourceType.CLUSTER}) {
        if (old.names(type) != next.names(type) || old.sharedNames(type) != next.sharedNames(type)) {
          changedViews.put(node, type);
          viewChanges++;
        }
      }
      if (entry.getValue().isPresent()) {
        nodes.put(node, next);
      } else {
        nodes.remove(node);
      }
    }

    StoreChange change = new StoreChange(generation, changedNames.build(), changedViews.build());
    if (change.isEmpty() && nodes.keySet().equals(previous.nodes().keySet())) {
      return new ApplyResult(previous.generation(), 0, 0, 0);
    }
    StoreSnapshot next = new StoreSnapshot(generation, tables, ImmutableMap.copyOf(nodes));
    beforePublish.accept(generation);
    // publish before notifying: a stream that subscribes concurrently either reads this snapshot or is
    // seen by the listener with its new subscription (both sides write, then read, a volatile)
    current = next;
    log.debug(
        "applied generation={} changed={} removed={} viewChanges={}", generation, changed, removed, viewChanges);
    if (!change.isEmpty()) {
      for (ChangeListener listener : listeners) {
        try {
          listener.onChange(next, change);
        } catch (RuntimeException e) {
          log.error("store listener failed at generation {}", generation, e);
        }
      }
    }
    return new ApplyResult(generation, changed, removed, viewChanges);
  }

  private NodeView intern(NodeView view) {
    // the shared layer usually arrives as the instance already interned: an identity hit, O(1) per node
    return new NodeView(names.intern(view.listeners()), names.intern(view.clusters()),
        names.intern(view.sharedListeners()), names.intern(view.sharedClusters()));
  }
}
