package io.nodemesh.k8s;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** The production wiring (informers -> store -> debouncer) plus recorders of everything it publishes. */
final class WatcherHarness implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(20);

  final ClusterStateStore store = new ClusterStateStore(MeshOptions.DEFAULTS);
  final Debouncer debouncer;
  final KubernetesWatchers watchers;
  final List<StateUpdate> published = new CopyOnWriteArrayList<>();
  final List<StateUpdate> batches = new CopyOnWriteArrayList<>();

  WatcherHarness(KubernetesClient client, WatcherOptions options) {
    debouncer = Debouncer.create(options);
    store.subscribe(published::add);
    store.subscribe(debouncer);
    debouncer.subscribe(batches::add);
    watchers = KubernetesWatchers.start(client, store, options);
  }

  WatcherHarness(KubernetesClient client) {
    this(client, WatcherOptions.DEFAULTS);
  }

  WatcherHarness awaitSynced() {
    await().atMost(DEADLINE).until(watchers::isSynced);
    return this;
  }

  ClusterState state() {
    return store.current();
  }

  /** Waits until the published model satisfies the condition; returns that state. */
  ClusterState awaitState(Predicate<ClusterState> condition) {
    await().atMost(DEADLINE).until(() -> condition.test(store.current()));
    return store.current();
  }

  /** Marks a point in the stream of published states, for {@link #changesSince}. */
  int mark() {
    return published.size();
  }

  /** Everything published after the mark, merged as a debouncer would. */
  Change changesSince(int mark) {
    Change.Builder merged = Change.builder();
    published.subList(mark, published.size()).forEach(update -> merged.add(update.change()));
    return merged.build();
  }

  /** Waits until the writer has handled everything the informers have handed it so far. */
  void awaitWriterIdle() throws Exception {
    await().atMost(DEADLINE).until(() -> store.queueDepth() == 0);
    CompletableFuture<Void> done = new CompletableFuture<>();
    store.runOnWriter(() -> done.complete(null));
    done.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    watchers.close();
    debouncer.close();
    store.close();
  }
}
