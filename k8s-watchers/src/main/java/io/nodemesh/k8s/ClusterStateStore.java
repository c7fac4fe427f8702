package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.NodePin;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.Problem;
import io.nodemesh.model.ServiceInfo;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single writer of the cluster model. Informer threads queue converted events; one writer thread drains
 * everything queued, applies it to one {@link ClusterState.Builder}, builds one immutable {@link ClusterState}
 * and publishes it with the {@link Change} since the previous one: one state per drain, never one per event.
 *
 * <p>Content, not resourceVersion, decides what changed: an event whose converted object equals the one
 * already applied is dropped, and a batch whose model result equals the previous state publishes nothing.
 *
 * <p>Nothing is published before every kind has been listed once ({@link #synced()}; an optional kind, a route
 * kind whose CRD may be missing, only if it is watched): a partial state would
 * make the xDS layer remove listeners of pods it simply has not seen yet. The first published update has
 * {@link Change#full()} set.
 *
 * <p>Thread-safety: {@link #submit}, {@link #subscribe}, {@link #current} and the counters are safe from any
 * thread; all model state is confined to the writer thread, and subscribers are called on it (they must hand
 * work off quickly, as the {@link Debouncer} does).
 */
public final class ClusterStateStore implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClusterStateStore.class);

  private final ExecutorService writer;
  private volatile Thread writerThread;
  private final ConcurrentLinkedQueue<StoreEvent> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final AtomicInteger queueDepth = new AtomicInteger();
  private final AtomicLong eventsApplied = new AtomicLong();
  private final AtomicLong statesPublished = new AtomicLong();
  private final CompletableFuture<ClusterState> synced = new CompletableFuture<>();
  private volatile ClusterState current;

  // ---- confined to the writer thread ----
  private final ClusterState.Builder builder;
  /** What was last applied per object (converted value + problems, or a rejection), to drop no-op events. */
  private final Map<ResourceKind, Map<Object, Applied>> applied = new EnumMap<>(ResourceKind.class);
  private final Set<ResourceKind> listed = EnumSet.noneOf(ResourceKind.class);
  /** The kinds whose first list the first state waits for: every non-optional kind, and optional ones watched. */
  private final Set<ResourceKind> required = EnumSet.noneOf(ResourceKind.class);
  private final Map<ResourceKind, Set<Object>> touched = new EnumMap<>(ResourceKind.class);
  private final List<Consumer<StateUpdate>> subscribers = new ArrayList<>();
  private boolean dirty;
  private boolean isSynced;
  private boolean hasEventTime;
  private long earliestEventNanos;
  private long generation;

  public ClusterStateStore(MeshOptions meshOptions) {
    this.builder = ClusterState.builder(meshOptions);
    this.current = ClusterState.builder(meshOptions).build();
    for (ResourceKind kind : ResourceKind.values()) {
      applied.put(kind, new HashMap<>());
      touched.put(kind, new HashSet<>());
      if (!kind.optional()) {
        required.add(kind);
      }
    }
    this.writer = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-state-writer");
      thread.setDaemon(true);
      writerThread = thread;
      return thread;
    });
  }

  /**
   * Registers a subscriber, called on the writer thread with every published update. A subscriber that
   * arrives after the first state was published first gets the current state with {@link Change#full()} set.
   */
  public void subscribe(Consumer<StateUpdate> subscriber) {
    Objects.requireNonNull(subscriber, "subscriber");
    writer.execute(() -> {
      subscribers.add(subscriber);
      if (isSynced) {
        deliver(subscriber, new StateUpdate(current, Change.full(System.nanoTime()), generation));
      }
    });
  }

  /** The latest built state (empty until synced). Safe from any thread. */
  public ClusterState current() {
    return current;
  }

  /** True once every kind was listed and the resulting state was published. */
  public boolean isSynced() {
    return synced.isDone();
  }

  /**
   * Completes with the first published state, once every informer has listed and all listed objects were
   * applied. Dependents registered before completion run on the writer thread: keep them short.
   */
  public CompletableFuture<ClusterState> synced() {
    // a copy: callers completing or cancelling it must not fake readiness
    return synced.copy();
  }

  /** Events queued and not yet applied (for the queue-depth metric). */
  public int queueDepth() {
    return queueDepth.get();
  }

  /** Events the writer has processed, including those dropped as unchanged. */
  public long eventsApplied() {
    return eventsApplied.get();
  }

  /** States published to subscribers (batches with a non-empty change, plus the first state). */
  public long statesPublished() {
    return statesPublished.get();
  }

  /**
   * Queues a node agent's full report of the pins on {@code node} (the caller authorized the reporter for that
   * node); the writer re-decides the node's pods whose pin changed. An unchanged report costs one map compare.
   */
  public void reportPins(String node, Map<String, NodePin> pins) {
    submit(new StoreEvent.Pins(node, ImmutableMap.copyOf(pins), System.nanoTime()));
  }

  /** Queues an event from an informer thread; the writer applies it with everything else queued. */
  void submit(StoreEvent event) {
    queue.add(event);
    queueDepth.incrementAndGet();
    if (drainScheduled.compareAndSet(false, true)) {
      try {
        writer.execute(this::drain);
      } catch (RejectedExecutionException e) {
        // closed: informers still shutting down may deliver a last event, which no one needs any more
        log.debug("Store closed, dropping {}", event);
      }
    }
  }

  /** Runs a task on the writer thread (tests use it to hold the writer while events queue up). */
  void runOnWriter(Runnable task) {
    writer.execute(task);
  }

  @Override
  public void close() {
    writer.shutdownNow();
    try {
      writer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  void checkWriter() {
    if (Thread.currentThread() != writerThread) {
      throw new IllegalStateException("cluster state touched outside the writer thread: " + Thread.currentThread());
    }
  }

  private void drain() {
    checkWriter();
    // reset before polling: an event queued after the last poll schedules the next drain
    drainScheduled.set(false);
    StoreEvent event;
    while ((event = queue.poll()) != null) {
      queueDepth.decrementAndGet();
      try {
        apply(event);
      } catch (RuntimeException e) {
        // a bug here must not wedge the writer: report the object and carry on
        log.error("Failed to apply {}", event, e);
      }
      eventsApplied.incrementAndGet();
    }
    try {
      finishBatch();
    } catch (RuntimeException e) {
      log.error("Failed to publish cluster state", e);
    }
  }

  private void apply(StoreEvent event) {
    if (event instanceof StoreEvent.Upsert upsert) {
      applyUpsert(upsert);
    } else if (event instanceof StoreEvent.Delete delete) {
      applyDelete(delete);
    } else if (event instanceof StoreEvent.Reject reject) {
      applyReject(reject);
    } else if (event instanceof StoreEvent.Pins report) {
      applyPins(report);
    } else if (event instanceof StoreEvent.Listed done) {
      listed.add(done.kind());
    } else if (event instanceof StoreEvent.Watched watched) {
      required.add(watched.kind());
    }
  }

  private void applyUpsert(StoreEvent.Upsert event) {
    ResourceKind kind = event.kind();
    Applied content = new Applied(event.converted().value(), event.converted().problems(), null);
    if (!record(kind, event.key(), content)) {
      return;
    }
    Object value = event.converted().value();
    String namespace = "";
    String name;
    switch (kind) {
      case POD -> {
        PodInfo pod = (PodInfo) value;
        builder.putPod(pod);
        namespace = pod.namespace();
        name = pod.name();
      }
      case SERVICE -> {
        ServiceInfo service = (ServiceInfo) value;
        builder.putService(service);
        namespace = service.namespace();
        name = service.name();
      }
      case ENDPOINT_SLICE -> {
        EndpointSliceInfo slice = (EndpointSliceInfo) value;
        builder.putEndpointSlice(slice);
        namespace = slice.namespace();
        name = slice.name();
      }
      case NODE -> {
        NodeInfo node = (NodeInfo) value;
        builder.putNode(node);
        name = node.name();
      }
      case NAMESPACE -> {
        NamespaceInfo ns = (NamespaceInfo) value;
        builder.putNamespace(ns);
        name = ns.name();
      }
      case HTTP_ROUTE, GRPC_ROUTE -> {
        MeshRoute route = (MeshRoute) value;
        if (route.parents().isEmpty()) {
          // attached to Gateways only (or to nothing): another controller's route, not part of the mesh; a
          // version that named a Service before leaves the model
          builder.removeRoute(route.key());
          touch(kind, event.key(), event.observedNanos());
          return;
        }
        builder.putRoute(route);
        namespace = route.namespace();
        name = route.name();
      }
      default -> throw new IllegalStateException("unknown kind " + kind);
    }
    // after put: put clears the object's earlier problems, these belong to the new version
    for (String problem : event.converted().problems()) {
      builder.reportProblem(new Problem(kind.kindName(), namespace, name, problem));
    }
    if (!event.converted().problems().isEmpty()) {
      log.warn("{} {}: parts skipped: {}", kind.kindName(), qualified(namespace, name),
          String.join("; ", event.converted().problems()));
    }
    touch(kind, event.key(), event.observedNanos());
  }

  private void applyPins(StoreEvent.Pins event) {
    if (event.pins().equals(builder.pinsOf(event.node()))) {
      return; // the periodic repeat of a report: nothing changes
    }
    if (!builder.hasNode(event.node())) {
      // only nodes of the cluster keep pins (with --node-auth=none a client may claim any name): bounded by nodes
      log.debug("ignoring pins reported for {}: not a node of the cluster", event.node());
      return;
    }
    builder.putPins(event.node(), event.pins());
    // the pods whose decision changed are reported by the builder as changed by others
    dirty = true;
    earliestEventNanos = hasEventTime ? Change.earlier(earliestEventNanos, event.observedNanos()) : event.observedNanos();
    hasEventTime = true;
  }

  private void applyDelete(StoreEvent.Delete event) {
    if (applied.get(event.kind()).remove(event.key()) == null) {
      return;
    }
    remove(event.kind(), event.key());
    touch(event.kind(), event.key(), event.observedNanos());
  }

  private void applyReject(StoreEvent.Reject event) {
    ResourceKind kind = event.kind();
    Problem problem = new Problem(kind.kindName(), event.namespace(), event.name(), event.reason());
    if (event.key() == null) {
      // unidentifiable: nothing to remove; keep one problem per kind and namespace rather than a growing list
      log.warn("Skipping {} {}: {}", kind.kindName(), qualified(event.namespace(), event.name()), event.reason());
      builder.clearProblems(problem.kind(), problem.namespace(), problem.name());
      builder.reportProblem(problem);
      dirty = true;
      return;
    }
    Applied content = new Applied(null, ImmutableList.of(), event.reason());
    if (!record(kind, event.key(), content)) {
      return;
    }
    log.warn("Skipping {} {}: {}", kind.kindName(), qualified(event.namespace(), event.name()), event.reason());
    // an earlier valid version must not linger: the object as it is now cannot be used
    remove(kind, event.key());
    builder.reportProblem(problem);
    touch(kind, event.key(), event.observedNanos());
  }

  /**
   * Records what an object now converts to; false when that is what was recorded before. The earlier record is
   * then kept: the model holds the earlier objects, and a resync or relist (which converts every object again)
   * must not leave a second, equal copy of every object behind in this map (the soak's heap rose by 5-10 MB at
   * 6,000 pods after the first resync).
   */
  private boolean record(ResourceKind kind, Object key, Applied content) {
    Map<Object, Applied> byKey = applied.get(kind);
    if (content.equals(byKey.get(key))) {
      return false;
    }
    byKey.put(key, content);
    return true;
  }

  /** What is recorded for an object: the converted value the model was given (tests). */
  Optional<Object> appliedValue(ResourceKind kind, Object key) {
    Applied content = applied.get(kind).get(key);
    return content == null ? Optional.empty() : Optional.ofNullable(content.value());
  }

  private void remove(ResourceKind kind, Object key) {
    switch (kind) {
      case POD -> builder.removePod((ObjectKey) key);
      case SERVICE -> builder.removeService((ObjectKey) key);
      case ENDPOINT_SLICE -> builder.removeEndpointSlice((ObjectKey) key);
      case NODE -> builder.removeNode((String) key);
      case NAMESPACE -> builder.removeNamespace((String) key);
      case HTTP_ROUTE, GRPC_ROUTE -> builder.removeRoute((MeshRoute.Key) key);
      default -> throw new IllegalStateException("unknown kind " + kind);
    }
  }

  private void touch(ResourceKind kind, Object key, long observedNanos) {
    touched.get(kind).add(key);
    dirty = true;
    earliestEventNanos = hasEventTime ? Change.earlier(earliestEventNanos, observedNanos) : observedNanos;
    hasEventTime = true;
  }

  private void finishBatch() {
    boolean syncsNow = !isSynced && listed.containsAll(required);
    if (!isSynced && !syncsNow) {
      // hold everything until every watched kind has listed; no state is built until then
      return;
    }
    if (!dirty && !syncsNow) {
      return;
    }
    isSynced = true;
    ClusterState previous = current;
    ClusterState next = builder.build();
    current = next;
    // e.g. the pod that shared a netns path with these went away: no event of theirs, yet their status changed
    touched.get(ResourceKind.POD).addAll(builder.takePodsChangedByOthers());
    Change.Builder change = Change.builder().full(syncsNow);
    if (hasEventTime) {
      change.observedAt(earliestEventNanos);
    }
    diff(previous, next, change);
    dirty = false;
    hasEventTime = false;
    touched.values().forEach(Set::clear);
    if (syncsNow || !change.isEmpty()) {
      generation++;
      StateUpdate update = new StateUpdate(next, change.build(), generation);
      statesPublished.incrementAndGet();
      for (Consumer<StateUpdate> subscriber : subscribers) {
        deliver(subscriber, update);
      }
    }
    if (syncsNow) {
      log.info("Cluster state synced: {}", next);
      synced.complete(next);
    }
  }

  private void diff(ClusterState previous, ClusterState next, Change.Builder change) {
    for (Object key : touched.get(ResourceKind.POD)) {
      diffPod(previous.pod((ObjectKey) key).orElse(null), next.pod((ObjectKey) key).orElse(null), (ObjectKey) key,
          change);
    }
    for (Object key : touched.get(ResourceKind.NAMESPACE)) {
      String namespace = (String) key;
      if (Objects.equals(previous.namespaces().get(namespace), next.namespaces().get(namespace))) {
        continue;
      }
      change.namespace(namespace);
      // a relabelled namespace may flip the mesh status of every pod in it; removed pods were touched already
      for (PodInfo pod : next.pods()
          .subMap(ObjectKey.of(namespace, ""), true, ObjectKey.of(namespace + "\u0000", ""), false)
          .values()) {
        diffPod(previous.pod(pod.key()).orElse(null), pod, pod.key(), change);
      }
    }
    for (Object key : touched.get(ResourceKind.SERVICE)) {
      if (!Objects.equals(previous.services().get(key), next.services().get(key))) {
        change.service((ObjectKey) key);
      }
    }
    for (Object key : touched.get(ResourceKind.ENDPOINT_SLICE)) {
      EndpointSliceInfo before = previous.endpointSlices().get(key);
      EndpointSliceInfo after = next.endpointSlices().get(key);
      if (!Objects.equals(before, after)) {
        // a slice relabelled to another service changes the endpoints of both
        if (before != null) {
          change.endpoints(before.serviceKey());
        }
        if (after != null) {
          change.endpoints(after.serviceKey());
        }
      }
    }
    for (Object key : touched.get(ResourceKind.NODE)) {
      if (!Objects.equals(previous.nodes().get(key), next.nodes().get(key))) {
        change.node((String) key);
      }
    }
    for (ResourceKind kind : List.of(ResourceKind.HTTP_ROUTE, ResourceKind.GRPC_ROUTE)) {
      for (Object key : touched.get(kind)) {
        MeshRoute before = previous.routes().get(key);
        MeshRoute after = next.routes().get(key);
        if (!Objects.equals(before, after)) {
          // a route is translated as part of the service ports it attaches to: those of both versions change
          routeParents(before, change);
          routeParents(after, change);
        }
      }
    }
  }

  private static void routeParents(MeshRoute route, Change.Builder change) {
    if (route != null) {
      route.parents().forEach(parent -> change.service(parent.service()));
    }
  }

  private static void diffPod(PodInfo before, PodInfo after, ObjectKey key, Change.Builder change) {
    if (Objects.equals(before, after)) {
      return;
    }
    change.pod(key);
    // a pod that moved (deleted and recreated elsewhere) changes both its old and its new node
    Optional.ofNullable(before).flatMap(PodInfo::nodeName).ifPresent(change::podNode);
    Optional.ofNullable(after).flatMap(PodInfo::nodeName).ifPresent(change::podNode);
  }

  private static void deliver(Consumer<StateUpdate> subscriber, StateUpdate update) {
    try {
      subscriber.accept(update);
    } catch (RuntimeException e) {
      log.error("State subscriber {} failed on generation {}", subscriber, update.generation(), e);
    }
  }

  private static String qualified(String namespace, String name) {
    return namespace.isEmpty() ? name : namespace + "/" + name;
  }

  /** The last applied content of one object: a converted value with its problems, or a rejection reason. */
  private record Applied(Object value, ImmutableList<String> problems, String rejection) {}
}
