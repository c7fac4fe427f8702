package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.nodemesh.model.ClusterState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.Objects;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster-wide fabric8 shared informers for Pods, Services, EndpointSlices (discovery.k8s.io/v1), Nodes and
 * Namespaces, and for HTTPRoutes and GRPCRoutes (gateway.networking.k8s.io/v1) when the API server serves them,
 * feeding a {@link ClusterStateStore}. Each informer converts on its own handler thread and queues
 * the result; a converter failure becomes a {@code Problem}, never an exception out of a handler. List and
 * watch failures are retried forever with fabric8's backoff (the default would stop an informer whose first
 * list fails, e.g. when the API server is not up yet).
 *
 * <p>Route kinds are asked of API discovery at start: a cluster without the Gateway API CRDs (or RBAC that does not
 * let us list routes) gets one INFO line and no route informers, and the first state does not wait for them; the
 * control plane looks again every {@code routeDiscoveryInterval} and starts the informers when CRDs or RBAC
 * arrive. When discovery itself fails (API server not up yet) it is retried with backoff until it answers.
 *
 * <p>Thread-safe.
 */
public final class KubernetesWatchers implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesWatchers.class);

  private static final List<ResourceKind> ROUTE_KINDS = List.of(ResourceKind.HTTP_ROUTE, ResourceKind.GRPC_ROUTE);
  /** The group version of the route kinds watched. */
  static final String GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1";
  /** Discovery retries while the API server does not answer: first and longest pause. */
  private static final long DISCOVERY_RETRY_FIRST_MS = 500;
  private static final long DISCOVERY_RETRY_MAX_MS = 30_000;

  private final ClusterStateStore store;
  private final KubernetesClient client;
  private final long resyncMillis;
  private final long routeRecheckMillis;
  /** The core kinds from the start, the route kinds added once discovery says they are served. */
  private final List<KindWatch<?>> watches = new CopyOnWriteArrayList<>();
  private volatile boolean closed;
  private volatile Thread discovery;
  /** Set once the core informers were started: route informers found later start at once. */
  private volatile boolean started;
  /** Route kinds the first state no longer waits for; touched by the discovery thread only. */
  private final Set<ResourceKind> gatesReleased = EnumSet.noneOf(ResourceKind.class);
  /** What the last look at the route kinds found missing, to log only changes. Discovery thread or start(). */
  private volatile String lastRouteGaps = "";
  private final AtomicLong watchErrors = new AtomicLong();
  /** The last list/watch failure and when, published together so a reader never pairs one error with another's time. */
  private volatile LastError lastError;

  private record LastError(String message, Instant at) {}

  private KubernetesWatchers(KubernetesClient client, ClusterStateStore store, WatcherOptions options) {
    this.store = Objects.requireNonNull(store, "store");
    this.client = client;
    long resync = options.resyncPeriod().toMillis();
    this.resyncMillis = resync;
    this.routeRecheckMillis = options.routeDiscoveryInterval().toMillis();
    this.watches.addAll(ImmutableList.of(
        new KindWatch<>(ResourceKind.NAMESPACE, client.namespaces().runnableInformer(resync),
            Converters::namespace, Converters::clusterScopedKey),
        new KindWatch<>(ResourceKind.NODE, client.nodes().runnableInformer(resync),
            Converters::node, Converters::clusterScopedKey),
        new KindWatch<>(ResourceKind.SERVICE, client.services().inAnyNamespace().runnableInformer(resync),
            Converters::service, Converters::namespacedKey),
        new KindWatch<>(ResourceKind.ENDPOINT_SLICE,
            client.discovery().v1().endpointSlices().inAnyNamespace().runnableInformer(resync),
            Converters::endpointSlice, Converters::namespacedKey),
        new KindWatch<>(ResourceKind.POD, client.pods().inAnyNamespace().runnableInformer(resync),
            Converters::pod, Converters::namespacedKey)));
  }

  /**
   * Creates and starts the informers; returns at once (see {@link #synced()}). The client's configuration
   * decides where the API server is (in-cluster service account, KUBECONFIG, ...).
   */
  public static KubernetesWatchers start(KubernetesClient client, ClusterStateStore store, WatcherOptions options) {
    KubernetesWatchers watchers = new KubernetesWatchers(client, store, options);
    // the first state waits for the route kinds until discovery has said whether they are watched (a restart
    // must not publish a state without the routes that Envoys hold); queued before any informer lists
    ROUTE_KINDS.forEach(kind -> store.submit(new StoreEvent.Watched(kind)));
    watchers.watches.forEach(KindWatch::start);
    watchers.started = true;
    // off the caller's thread: against an unreachable API server a discovery request takes fabric8's retries
    watchers.keepDiscoveringInBackground();
    return watchers;
  }

  /** What one look at the route kinds found. */
  private enum RouteDiscovery {
    /** The API server could not be asked: retry soon. */
    FAILED,
    /** A route kind is not served or not permitted: look again now and then (CRDs and RBAC arrive later). */
    INCOMPLETE,
    /** Both route kinds are watched. */
    COMPLETE
  }

  /**
   * Asks discovery which route kinds are served and whether we may list them, and adds an informer for each
   * one that is and is not watched yet (started at once when this runs after the others). A kind that is
   * served but not permitted (RBAC without the Gateway API rules) is reported and left out: an informer that
   * can never list would hold readiness and the first state back for every other kind.
   */
  private RouteDiscovery discoverRoutes() {
    List<String> served;
    try {
      // discovery itself rather than client.supports(), which a client may answer without asking (fabric8's mock)
      APIResourceList list = client.getApiResources(GATEWAY_API_VERSION);
      List<APIResource> resources = list == null || list.getResources() == null ? List.of() : list.getResources();
      served = resources.stream().filter(Objects::nonNull).map(APIResource::getKind).filter(Objects::nonNull).toList();
    } catch (RuntimeException e) {
      recordError(ResourceKind.HTTP_ROUTE, e);
      return RouteDiscovery.FAILED;
    }
    List<String> missing = new ArrayList<>();
    for (ResourceKind kind : ROUTE_KINDS) {
      if (isWatched(kind)) {
        continue;
      }
      if (!served.contains(kind.kindName())) {
        missing.add(kind.kindName() + " not served (Gateway API CRDs not installed)");
        releaseFirstStateGate(kind);
        continue;
      }
      Class<? extends HasMetadata> type = kind == ResourceKind.HTTP_ROUTE ? HTTPRoute.class : GRPCRoute.class;
      try {
        client.resources(type).inAnyNamespace().list(new ListOptionsBuilder().withLimit(1L).build());
      } catch (KubernetesClientException e) {
        if (e.getCode() != 403) {
          recordError(kind, e);
          return RouteDiscovery.FAILED;
        }
        // shown on /debug/state; logged below only when what is missing changes, not once a minute
        lastError = new LastError(kind.kindName() + ": " + e, Instant.now());
        missing.add(kind.kindName() + " not permitted (list " + kind.kindName() + " is forbidden to us)");
        releaseFirstStateGate(kind);
        continue;
      }
      if (kind == ResourceKind.HTTP_ROUTE) {
        addOptional(new KindWatch<>(kind, client.resources(HTTPRoute.class).inAnyNamespace().runnableInformer(resyncMillis),
            RouteConverters::httpRoute, RouteConverters::httpRouteKey));
      } else {
        addOptional(new KindWatch<>(kind, client.resources(GRPCRoute.class).inAnyNamespace().runnableInformer(resyncMillis),
            RouteConverters::grpcRoute, RouteConverters::grpcRouteKey));
      }
      log.info("watching gateway.networking.k8s.io/v1 {}", kind.kindName());
    }
    String state = String.join("; ", missing);
    if (!state.equals(lastRouteGaps)) {
      lastRouteGaps = state;
      if (!missing.isEmpty()) {
        log.info("mesh routes: {}; looking again every {} s", state, TimeUnit.MILLISECONDS.toSeconds(routeRecheckMillis));
      }
    }
    return missing.isEmpty() ? RouteDiscovery.COMPLETE : RouteDiscovery.INCOMPLETE;
  }

  /**
   * Lets the first state go without {@code kind}: it will not be listed now (not served, not permitted, or
   * discovery failed). Once per kind; a later informer for it lists into the published states as usual.
   */
  private void releaseFirstStateGate(ResourceKind kind) {
    if (gatesReleased.add(kind)) {
      store.submit(new StoreEvent.Listed(kind));
    }
  }

  private boolean isWatched(ResourceKind kind) {
    return watches.stream().anyMatch(watch -> watch.kind == kind);
  }

  private void addOptional(KindWatch<?> watch) {
    store.submit(new StoreEvent.Watched(watch.kind));
    watches.add(watch);
    if (started) {
      watch.start(); // found by the background look: the core informers run already
      if (closed) {
        watch.informer.close(); // close() may have missed it
      }
    }
  }

  /**
   * Looks at the route kinds now and again until both are watched: soon after failures, now and then otherwise.
   * A first look that fails lets the first state go without routes (the core kinds may still list).
   */
  private void keepDiscoveringInBackground() {
    Thread thread = new Thread(() -> {
      RouteDiscovery last = discoverRoutes();
      if (last == RouteDiscovery.FAILED) {
        ROUTE_KINDS.forEach(this::releaseFirstStateGate);
      }
      long failurePause = DISCOVERY_RETRY_FIRST_MS;
      while (!closed && last != RouteDiscovery.COMPLETE) {
        long pause = last == RouteDiscovery.FAILED ? failurePause : routeRecheckMillis;
        try {
          TimeUnit.MILLISECONDS.sleep(pause);
        } catch (InterruptedException e) {
          return;
        }
        if (closed) {
          return;
        }
        last = discoverRoutes();
        failurePause = last == RouteDiscovery.FAILED ? Math.min(failurePause * 2, DISCOVERY_RETRY_MAX_MS)
            : DISCOVERY_RETRY_FIRST_MS;
      }
    }, "nodemesh-route-discovery");
    thread.setDaemon(true);
    discovery = thread;
    thread.start();
  }

  /** The kinds watched: the core kinds and the route kinds the API server serves. */
  public ImmutableList<ResourceKind> watchedKinds() {
    return watches.stream().map(w -> w.kind).collect(ImmutableList.toImmutableList());
  }

  /** True once every informer has listed and the store published the resulting state (for /readyz). */
  public boolean isSynced() {
    return store.isSynced() && watches.stream().allMatch(w -> w.informer.hasSynced());
  }

  /** Completes with the first complete cluster state. */
  public CompletableFuture<ClusterState> synced() {
    return store.synced();
  }

  /** True when every informer has an open watch; false while any is relisting or reconnecting. */
  public boolean isApiServerReachable() {
    return watches.stream().allMatch(w -> w.informer.isWatching());
  }

  /** Informer notifications received per kind (adds, updates including resync replays, deletes). */
  public ImmutableMap<ResourceKind, Long> eventCounts() {
    ImmutableMap.Builder<ResourceKind, Long> counts = ImmutableMap.builder();
    watches.forEach(w -> counts.put(w.kind, w.events.get()));
    return counts.buildOrThrow();
  }

  /** Everything /readyz and /debug/state need to know about the watchers. */
  public WatchHealth health() {
    ImmutableMap.Builder<ResourceKind, WatchHealth.KindStatus> kinds = ImmutableMap.builder();
    for (KindWatch<?> watch : watches) {
      kinds.put(watch.kind, new WatchHealth.KindStatus(
          watch.informer.hasSynced(), watch.informer.isWatching(), watch.lists.get(), watch.events.get()));
    }
    LastError last = lastError;
    return new WatchHealth(isSynced(), isApiServerReachable(), watchErrors.get(),
        Optional.ofNullable(last).map(LastError::message), Optional.ofNullable(last).map(LastError::at),
        kinds.buildOrThrow());
  }

  /** Stops every informer; the store keeps its last state. */
  @Override
  public void close() {
    closed = true;
    Thread thread = discovery;
    if (thread != null) {
      thread.interrupt();
    }
    watches.forEach(w -> w.informer.close());
  }

  private void recordError(ResourceKind kind, Throwable error) {
    watchErrors.incrementAndGet();
    lastError = new LastError(kind.kindName() + ": " + error, Instant.now());
    log.warn("{} informer list/watch failed, retrying: {}", kind.kindName(), error.toString());
  }

  /** One informer and the handler that converts its notifications into store events. */
  private final class KindWatch<T extends HasMetadata> implements ResourceEventHandler<T> {
    private final ResourceKind kind;
    private final SharedIndexInformer<T> informer;
    private final Function<T, Converted<?>> converter;
    private final Function<T, Object> keyOf;
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong lists = new AtomicLong();

    KindWatch(ResourceKind kind, SharedIndexInformer<T> informer, Function<T, ? extends Converted<?>> converter,
        Function<T, ?> keyOf) {
      this.kind = kind;
      this.informer = informer;
      this.converter = converter::apply;
      this.keyOf = keyOf::apply;
    }

    void start() {
      informer.exceptionHandler((started, error) -> {
        recordError(kind, error);
        return true;
      });
      informer.addEventHandler(this);
      informer.start();
    }

    @Override
    public void onAdd(T object) {
      upsert(object);
    }

    @Override
    public void onUpdate(T oldObject, T newObject) {
      upsert(newObject);
    }

    @Override
    public void onDelete(T object, boolean finalStateUnknown) {
      long now = System.nanoTime();
      try {
        store.submit(new StoreEvent.Delete(kind, keyOf.apply(object), now));
      } catch (RuntimeException e) {
        // an object that cannot be named was never applied either
        log.warn("Ignoring delete of unidentifiable {}: {}", kind.kindName(), e.getMessage());
      } finally {
        // counted once queued, so a reader that sees the count can wait for the store to apply it
        events.incrementAndGet();
      }
    }

    @Override
    public void onBeforeList(String lastSyncResourceVersion) {
      lists.incrementAndGet();
    }

    @Override
    public void onList(String resourceVersion, boolean remainedEmpty) {
      // notifications are serial per informer: every object of this list was queued before this marker
      store.submit(new StoreEvent.Listed(kind));
    }

    private void upsert(T object) {
      long now = System.nanoTime();
      Object key = null;
      try {
        key = keyOf.apply(object);
        store.submit(new StoreEvent.Upsert(kind, key, converter.apply(object), now));
      } catch (ConversionException e) {
        reject(object, key, e.getMessage(), now);
      } catch (RuntimeException e) {
        // hostile input that slipped past the converter's checks must not kill the informer
        reject(object, key, "conversion failed: " + e, now);
      } finally {
        events.incrementAndGet();
      }
    }

    private void reject(T object, Object key, String reason, long now) {
      String namespace = "";
      String name = "";
      if (object != null && object.getMetadata() != null) {
        namespace = Converters.printable(Objects.requireNonNullElse(object.getMetadata().getNamespace(), ""));
        name = Converters.printable(Objects.requireNonNullElse(object.getMetadata().getName(), ""));
      }
      store.submit(new StoreEvent.Reject(kind, key, namespace, name, reason, now));
    }
  }
}
