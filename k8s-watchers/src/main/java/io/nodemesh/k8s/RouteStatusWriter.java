package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReferenceBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfig;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.nodemesh.log.SafeText;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.model.RouteResolution.ParentStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the status of mesh routes ({@code status.parents[]} of HTTPRoutes and GRPCRoutes) as
 * {@link RouteResolution#CONTROLLER_NAME}: one entry per Service parentRef with the conditions the model computed.
 * Entries of other controllers are left as they are; ours for parents a route no longer names are removed.
 *
 * <p>Only the leader writes (a coordination.k8s.io Lease through fabric8's leader election), so replicas do not
 * fight over {@code lastTransitionTime}; serving xDS does not depend on leadership. A new leader compares every
 * route's status with what it computes and writes what differs.
 *
 * <p>Threads: {@link #accept} (the debouncer's thread) only records the latest state; fabric8's election threads
 * only flip the leader flag. Everything else runs on one thread, {@code nodemesh-route-status}, which owns the
 * pending writes: at most one per route (the latest desired status wins), so the backlog is bounded by the routes
 * of the model. A write reads the object, skips it when our entries already say what they should, and updates
 * the status subresource with the object's resourceVersion; a conflict is re-read and retried at once, other
 * failures are retried with doubling pauses.
 */
public final class RouteStatusWriter implements Consumer<StateUpdate>, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RouteStatusWriter.class);
  /** The CRD's bound on status.parents: other controllers' entries keep their place, ours get what is left. */
  static final int MAX_STATUS_PARENTS = 32;
  /** How long shutdown waits for the Lease to be released before leaving it to expire. */
  private static final long LEASE_RELEASE_WAIT_MS = 2_000;
  /** Immediate re-reads after a 409 Conflict before the write counts as failed and waits for its backoff. */
  private static final int CONFLICT_RETRIES = 3;

  private final KubernetesClient client;
  private final Function<ClusterState, ImmutableSortedMap<MeshRoute.Key, ImmutableList<ParentStatus>>> statuses;
  private final RouteStatusOptions options;
  private final Clock clock;
  private final ScheduledExecutorService worker;
  private final AtomicReference<ClusterState> latest = new AtomicReference<>();
  private final AtomicBoolean recomputeQueued = new AtomicBoolean();
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong unchanged = new AtomicLong();
  private volatile boolean leader;
  private volatile boolean closed;
  private final Object electionLock = new Object();
  /** The running election; replaced when it ends without us closing (fabric8 does not campaign again). */
  private CompletableFuture<?> election;

  // ---- confined to the worker thread ----
  /** What we computed last per route, to find the routes whose status must be written again. */
  private Map<MeshRoute.Key, Desired> desired = Map.of();
  /** The routes and services {@link #desired} was computed from (compared by identity). */
  private Object computedRoutes;
  private Object computedServices;
  /** Routes to write, in the order they became pending; the value is the earliest time of the next try. */
  private final Map<MeshRoute.Key, Attempt> pending = new LinkedHashMap<>();
  private ScheduledFuture<?> retryTimer;
  /** A new term began: once statuses are computed from a state, look for our entries on routes outside it. */
  private boolean orphanSweepDue;

  /** What a route's status should say: its generation (observedGeneration) and per-parent conditions. */
  private record Desired(long generation, ImmutableList<ParentStatus> parents) {
    static final Desired NONE = new Desired(0, ImmutableList.of());
  }

  /** A pending write: how many tries failed and when the next may start. */
  private record Attempt(int failures, long notBeforeMillis) {}

  private enum Outcome { WRITTEN, UNCHANGED, GONE }

  /**
   * Creates the writer and starts campaigning for the Lease. {@code statuses} computes every route's per-parent
   * status from a state (the app passes {@code RouteResolution.statuses(state, httpPort)}).
   */
  public static RouteStatusWriter start(KubernetesClient client,
      Function<ClusterState, ImmutableSortedMap<MeshRoute.Key, ImmutableList<ParentStatus>>> statuses,
      RouteStatusOptions options) {
    RouteStatusWriter writer = new RouteStatusWriter(client, statuses, options, Clock.systemUTC());
    writer.campaign();
    return writer;
  }

  private RouteStatusWriter(KubernetesClient client,
      Function<ClusterState, ImmutableSortedMap<MeshRoute.Key, ImmutableList<ParentStatus>>> statuses,
      RouteStatusOptions options, Clock clock) {
    this.client = Objects.requireNonNull(client, "client");
    this.statuses = Objects.requireNonNull(statuses, "statuses");
    this.options = Objects.requireNonNull(options, "options");
    this.clock = clock;
    this.worker = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-route-status");
      thread.setDaemon(true);
      return thread;
    });
  }

  /** Records the latest state; the worker computes and writes what changed. Cheap: safe on the debouncer thread. */
  @Override
  public void accept(StateUpdate update) {
    latest.set(update.state());
    queueRecompute();
  }

  /** Whether this replica holds the Lease and writes statuses. */
  public boolean isLeader() {
    return leader;
  }

  /** Status updates sent to the API server. */
  public long written() {
    return written.get();
  }

  /** Status writes that failed (each is retried). */
  public long failed() {
    return failed.get();
  }

  /** Routes looked at whose status already said what it should (nothing written). */
  public long unchanged() {
    return unchanged.get();
  }

  @Override
  public void close() {
    closed = true;
    CompletableFuture<?> running;
    synchronized (electionLock) {
      running = election;
    }
    if (running != null) {
      // cancelling releases the Lease (so another replica takes over without waiting for it to expire) on the
      // cancelling thread, with fabric8's request retries: bounded here, since an unreachable API server would
      // hold shutdown for as long; the Lease then simply expires
      Thread release = new Thread(() -> running.cancel(true), "nodemesh-route-status-release");
      release.setDaemon(true);
      release.start();
      try {
        release.join(LEASE_RELEASE_WAIT_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    leader = false;
    worker.shutdownNow();
    try {
      worker.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- leadership ----

  private void campaign() {
    synchronized (electionLock) {
      if (closed) {
        return;
      }
      LeaderElectionConfig config = new LeaderElectionConfig(
          new LeaseLock(options.leaseNamespace(), options.leaseName(), options.identity()),
          options.leaseDuration(), options.renewDeadline(), options.retryPeriod(),
          new LeaderCallbacks(this::startedLeading, this::stoppedLeading,
              holder -> log.info("route status writer: leader is {}", SafeText.of(holder))),
          true, options.leaseName());
      CompletableFuture<?> running = client.leaderElector().withConfig(config).build().start();
      election = running;
      running.whenComplete((result, error) -> {
        if (closed || running.isCancelled()) {
          return;
        }
        // fabric8 stops after losing the Lease (or on an error): campaign again so a replica can always return
        log.info("route status writer: leader election ended{}, campaigning again",
            error == null ? "" : " (" + SafeText.of(error.toString()) + ")");
        try {
          worker.schedule(this::campaign, options.retryPeriod().toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // closed meanwhile
        }
      });
    }
  }

  private void startedLeading() {
    log.info("route status writer: {} leads (Lease {}/{}); writing route statuses", SafeText.of(options.identity()),
        options.leaseNamespace(), options.leaseName());
    leader = true;
    execute(() -> {
      // forget what the previous term wrote: another replica may have written since; compare everything again
      forgetComputed();
      orphanSweepDue = true;
      recompute();
    });
  }

  private void stoppedLeading() {
    log.info("route status writer: {} no longer leads", SafeText.of(options.identity()));
    leader = false;
    execute(() -> {
      pending.clear();
      forgetComputed();
    });
  }

  private void forgetComputed() {
    desired = Map.of();
    computedRoutes = null;
    computedServices = null;
  }

  // ---- the worker ----

  private void queueRecompute() {
    if (recomputeQueued.compareAndSet(false, true)) {
      execute(() -> {
        recomputeQueued.set(false);
        recompute();
      });
    }
  }

  private void execute(Runnable task) {
    try {
      worker.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: nothing more to write
    }
  }

  /** Compares the statuses of the latest state with the last computed ones; what differs becomes pending. */
  private void recompute() {
    ClusterState state = latest.get();
    if (!leader || state == null) {
      return;
    }
    // statuses depend on routes and services only; a state shares both maps with the previous one unless they
    // changed, so pod and endpoint churn costs an identity check here, not a pass over every route
    if (state.routes() == computedRoutes && state.services() == computedServices) {
      return;
    }
    ImmutableSortedMap<MeshRoute.Key, ImmutableList<ParentStatus>> computed;
    try {
      computed = statuses.apply(state);
    } catch (RuntimeException e) {
      log.error("route status writer: computing statuses failed", e);
      return;
    }
    computedRoutes = state.routes();
    computedServices = state.services();
    Map<MeshRoute.Key, Desired> next = new HashMap<>();
    computed.forEach((key, parents) -> {
      MeshRoute route = state.routes().get(key);
      next.put(key, new Desired(route == null ? 0 : route.generation(), parents));
    });
    Set<MeshRoute.Key> keys = new HashSet<>(next.keySet());
    keys.addAll(desired.keySet()); // a route that left the model: our entries go
    long now = clock.millis();
    for (MeshRoute.Key key : keys) {
      if (!Objects.equals(next.get(key), desired.get(key))) {
        pending.remove(key); // a new desired status is tried at once, whatever the old one's backoff
        pending.put(key, new Attempt(0, now));
      }
    }
    desired = next;
    drain();
    if (orphanSweepDue) {
      orphanSweepDue = true;
      removeOrphanedEntries();
    }
  }

  /**
   * A route that left the model while nobody led (it dropped its last Service parent, say) still carries our
   * entries: a new leader, once it computed the statuses of a state, lists every route once and removes them. A kind
   * that cannot be listed (CRD absent, no RBAC) has nothing of ours to remove.
   */
  private void removeOrphanedEntries() {
    long now = clock.millis();
    int orphans = 0;
    for (MeshRoute.Kind kind : MeshRoute.Kind.values()) {
      List<? extends HasMetadata> routes;
      try {
        routes = switch (kind) {
          case HTTP_ROUTE -> client.resources(HTTPRoute.class).inAnyNamespace().list().getItems();
          case GRPC_ROUTE -> client.resources(GRPCRoute.class).inAnyNamespace().list().getItems();
        };
      } catch (KubernetesClientException e) {
        log.debug("route status writer: cannot list {} for entries to remove: {}", kind, SafeText.of(e.getMessage()));
        continue;
      }
      for (HasMetadata route : routes) {
        MeshRoute.Key key = new MeshRoute.Key(kind,
            ObjectKey.of(route.getMetadata().getNamespace(), route.getMetadata().getName()));
        boolean ours = parentsOf(route).stream()
            .anyMatch(entry -> entry != null && RouteResolution.CONTROLLER_NAME.equals(entry.getControllerName()));
        if (ours && !desired.containsKey(key) && !pending.containsKey(key)) {
          pending.put(key, new Attempt(0, now));
          orphans++;
        }
      }
    }
    if (orphans > 0) {
      log.info("route status writer: removing our status entries from {} routes outside the model", orphans);
      drain();
    }
  }

  /** Writes every pending route whose time has come; schedules itself again for the rest. */
  private void drain() {
    if (retryTimer != null) {
      retryTimer.cancel(false);
      retryTimer = null;
    }
    long earliest = Long.MAX_VALUE;
    for (MeshRoute.Key key : List.copyOf(pending.keySet())) {
      if (!leader || Thread.currentThread().isInterrupted()) {
        return;
      }
      Attempt attempt = pending.get(key);
      if (attempt.notBeforeMillis() > clock.millis()) {
        earliest = Math.min(earliest, attempt.notBeforeMillis());
        continue;
      }
      try {
        Outcome outcome = write(key, desired.getOrDefault(key, Desired.NONE));
        if (outcome == Outcome.WRITTEN) {
          written.incrementAndGet();
        } else if (outcome == Outcome.UNCHANGED) {
          unchanged.incrementAndGet();
        }
        pending.remove(key);
      } catch (RuntimeException e) {
        failed.incrementAndGet();
        long pause = Math.min(options.retryMax().toMillis(),
            options.retryFirst().toMillis() << Math.min(attempt.failures(), 20));
        Attempt next = new Attempt(attempt.failures() + 1, clock.millis() + pause);
        pending.put(key, next);
        earliest = Math.min(earliest, next.notBeforeMillis());
        log.warn("route status writer: writing the status of {} failed (try {}), retrying in {} ms: {}",
            SafeText.of(key.toString()), next.failures(), pause, SafeText.of(e.getMessage()));
      }
    }
    if (earliest != Long.MAX_VALUE) {
      retryTimer = worker.schedule(this::drain, Math.max(1, earliest - clock.millis()), TimeUnit.MILLISECONDS);
    }
  }

  /** Reads the route, merges our entries into its status and updates it unless nothing changes. */
  private Outcome write(MeshRoute.Key key, Desired wanted) {
    for (int attempt = 0; ; attempt++) {
      HasMetadata object = get(key);
      if (object == null) {
        return Outcome.GONE;
      }
      List<RouteParentStatus> current = parentsOf(object);
      List<RouteParentStatus> others = new ArrayList<>();
      List<RouteParentStatus> ours = new ArrayList<>();
      for (RouteParentStatus entry : current) {
        if (entry != null) {
          (RouteResolution.CONTROLLER_NAME.equals(entry.getControllerName()) ? ours : others).add(entry);
        }
      }
      List<RouteParentStatus> wantedOurs = entries(wanted, ours, Math.max(0, MAX_STATUS_PARENTS - others.size()));
      if (wantedOurs.equals(ours)) {
        return Outcome.UNCHANGED;
      }
      List<RouteParentStatus> merged = new ArrayList<>(others);
      merged.addAll(wantedOurs);
      setParents(object, merged);
      try {
        updateStatus(object);
        return Outcome.WRITTEN;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return Outcome.GONE;
        }
        if (e.getCode() != 409 || attempt >= CONFLICT_RETRIES) {
          throw e;
        }
        // someone else wrote the object since we read it: read it again and merge anew
      }
    }
  }

  /** Our entries as they should be, keeping each condition's lastTransitionTime while status and reason hold. */
  private List<RouteParentStatus> entries(Desired wanted, List<RouteParentStatus> old, int room) {
    String now = Instant.ofEpochMilli(clock.millis()).truncatedTo(ChronoUnit.SECONDS).toString();
    List<RouteParentStatus> entries = new ArrayList<>();
    for (ParentStatus parent : wanted.parents()) {
      if (entries.size() >= room) {
        break;
      }
      ParentReference ref = parentRef(parent.parent());
      List<Condition> previous = old.stream().filter(entry -> ref.equals(entry.getParentRef())).findFirst()
          .map(RouteParentStatus::getConditions).orElse(List.of());
      List<Condition> conditions = new ArrayList<>();
      for (RouteResolution.Condition condition : parent.conditions()) {
        String status = condition.status() ? "True" : "False";
        Optional<Condition> before = previous == null ? Optional.empty() : previous.stream()
            .filter(c -> c != null && condition.type().equals(c.getType())).findFirst();
        String since = before.filter(c -> status.equals(c.getStatus()) && condition.reason().equals(c.getReason())
            && c.getLastTransitionTime() != null).map(Condition::getLastTransitionTime).orElse(now);
        conditions.add(new ConditionBuilder().withType(condition.type()).withStatus(status)
            .withReason(condition.reason()).withMessage(condition.message())
            .withObservedGeneration(wanted.generation()).withLastTransitionTime(since).build());
      }
      entries.add(new RouteParentStatusBuilder().withControllerName(RouteResolution.CONTROLLER_NAME)
          .withParentRef(ref).withConditions(conditions).build());
    }
    return entries;
  }

  /** The parentRef as the route wrote it, in the shape the API server keeps it (empty parts left out). */
  static ParentReference parentRef(MeshRoute.Parent parent) {
    return new ParentReferenceBuilder().withGroup("").withKind("Service").withNamespace(parent.namespace())
        .withName(parent.name()).withPort(parent.port() == 0 ? null : parent.port())
        .withSectionName(parent.sectionName().isEmpty() ? null : parent.sectionName()).build();
  }

  private HasMetadata get(MeshRoute.Key key) {
    String namespace = key.object().namespace();
    String name = key.object().name();
    return switch (key.kind()) {
      case HTTP_ROUTE -> client.resources(HTTPRoute.class).inNamespace(namespace).withName(name).get();
      case GRPC_ROUTE -> client.resources(GRPCRoute.class).inNamespace(namespace).withName(name).get();
    };
  }

  private void updateStatus(HasMetadata object) {
    String namespace = object.getMetadata().getNamespace();
    if (object instanceof HTTPRoute route) {
      client.resources(HTTPRoute.class).inNamespace(namespace).resource(route).updateStatus();
    } else if (object instanceof GRPCRoute route) {
      client.resources(GRPCRoute.class).inNamespace(namespace).resource(route).updateStatus();
    }
  }

  private static List<RouteParentStatus> parentsOf(HasMetadata object) {
    List<RouteParentStatus> parents = null;
    if (object instanceof HTTPRoute route && route.getStatus() != null) {
      parents = route.getStatus().getParents();
    } else if (object instanceof GRPCRoute route && route.getStatus() != null) {
      parents = route.getStatus().getParents();
    }
    return parents == null ? List.of() : parents;
  }

  private static void setParents(HasMetadata object, List<RouteParentStatus> parents) {
    if (object instanceof HTTPRoute route) {
      if (route.getStatus() == null) {
        route.setStatus(new HTTPRouteStatus());
      }
      route.getStatus().setParents(parents);
    } else if (object instanceof GRPCRoute route) {
      if (route.getStatus() == null) {
        route.setStatus(new GRPCRouteStatus());
      }
      route.getStatus().setParents(parents);
    }
  }
}
