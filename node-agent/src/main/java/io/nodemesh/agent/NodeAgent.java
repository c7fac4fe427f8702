package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.common.SharedFlags;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshPolicy;
import io.nodemesh.model.MeshStatus;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.PodInfo;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent: answers the CNI plugin, keeps every pinned pod namespace's redirect rules as the mesh decision
 * says, and removes pins whose pod is gone.
 *
 * <p>Threading: one "agent loop" thread owns all mutable state and runs every iptables and mount operation, so
 * operations on one pod never interleave. Its queue is ordered by priority — plugin requests first (a pod start
 * is waiting), then targeted reconciles after API events, then full resyncs — so a resync of many pins never
 * delays an ADD by more than one pin's work. Informer, file-watch and timer threads only enqueue work.
 *
 * <p>Decisions use the control plane's {@link MeshPolicy} with one difference in input: at CNI ADD the API does
 * not show the pod's IP yet (the kubelet publishes it after ADD), so the IPs from the main plugin's result stand
 * in. Later, while the API still shows no IP and the agent knows none (after its own restart), it leaves the pod's
 * rules as they are rather than tear them down.
 */
public final class NodeAgent implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  private static final Pattern UID = CniRequest.UID;
  private static final int PRIORITY_CNI = 0;
  private static final int PRIORITY_EVENT = 1;
  private static final int PRIORITY_RESYNC = 2;
  private static final String UNINSTALLING = "nodemesh is being uninstalled from this node; retry";
  /** DEL waits at most this long for the listener to go: the plugin's default delTimeoutSeconds is 5. */
  private static final long DEL_WAIT_MAX_MILLIS = 4_000;
  /** Pace of reports while a CNI request waits for its listener. */
  private static final long FAST_REPORT_MILLIS = 20;
  /** Slowest pace of reports while started (fail-open) pods wait for their listener. */
  private static final long AWAITING_REPORT_MAX_MILLIS = 1_000;

  /** Where a pinned pod stands. */
  public enum State {
    /** Meshed, and the namespace holds exactly the intended rules. */
    REDIRECTED,
    /** Meshed; the redirect waits until every Envoy of the node holds the pod's listener (issue 16). */
    WAITING_FOR_LISTENER,
    /** Not meshed (the reason says why); the namespace holds none of our rules. */
    NOT_MESHED,
    /** Not decidable yet (API not synced, no pod IP known); rules left as they are. */
    UNDECIDED,
    /** No pod with this UID in the API; the pin is removed after the grace period. */
    ORPHANED,
    /** The last operation failed; retried on the next resync. */
    ERROR
  }

  /** One pin's state, as shown at {@code /debug/pods} and counted in the metrics. */
  public record PinStatus(
      String podUid, String namespace, String name, State state, String reason, String signature,
      ImmutableList<String> problems, Instant checked) {}

  private final String nodeName;
  private final MeshOptions meshOptions;
  private final int capturePort;
  private final int soMark;
  private final Path pinDir;
  private final Spool spool;
  private final Duration cniTimeout;
  private final Duration gcGrace;
  private final Duration resyncInterval;
  private final NetnsIptables iptables;
  private final PodDirectory pods;
  private final CniInstaller installer;
  private final Clock clock;
  private final AgentMetrics metrics;
  private final FailPolicy failPolicy;
  private final Duration listenerWait;
  private final Duration pinReportInterval;
  /** Null when no control plane address is configured: redirects are installed without waiting for listeners. */
  private final PinReporter reporter;
  private final Thread reportThread;
  private final Semaphore reportKick = new Semaphore(0);
  private volatile ImmutableList<Pin> reportSnapshot = ImmutableList.of();
  /** Report at the fast pace: a CNI request waits for listeners. */
  private volatile boolean fastReports;
  /** Started (fail-open) pods wait for their listener: report at {@link #awaitingPace}. */
  private volatile boolean podsAwaitListener;
  private final ReportPace awaitingPace = new ReportPace(FAST_REPORT_MILLIS, AWAITING_REPORT_MAX_MILLIS);
  private volatile PinReporter.Holdings lastHoldings;

  private final AtomicLong sequence = new AtomicLong();
  private final ThreadPoolExecutor loop;
  private final ScheduledExecutorService timer;
  private final AtomicBoolean spoolQueued = new AtomicBoolean();
  private final AtomicBoolean eventsQueued = new AtomicBoolean();
  private final AtomicBoolean resyncAllQueued = new AtomicBoolean();
  private final Set<String> dirtyPods = ConcurrentHashMap.newKeySet();
  private volatile WatchService watchService;
  private volatile Thread watcher;

  // owned by the agent loop
  private final Map<String, PinStatus> pins = new HashMap<>();
  private final Map<String, Instant> orphanSince = new HashMap<>();
  private final Map<String, ImmutableList<String>> cniIps = new HashMap<>();
  /** What the control plane is told about each pin (ready, or released by DEL), by pod UID. */
  private final Map<String, Pin> reported = new TreeMap<>();
  /** CNI requests answered once the node's Envoys hold (ADD) or dropped (DEL) the pod's listener. */
  private final Map<String, ListenerWait> waits = new HashMap<>();
  /** Requests being waited on: not served again when the spool is listed. */
  private final Set<String> deferredRequests = new HashSet<>();
  /** Meshed pods that started without their redirect (the wait timed out, fail-open); it follows the listener. */
  private final Set<String> awaitingListener = new HashSet<>();
  /** Pods whose listener every Envoy of the node held at the last report. */
  private Set<String> confirmed = Set.of();

  private volatile ImmutableMap<String, PinStatus> published = ImmutableMap.of();
  private volatile boolean reconciledOnce;
  /** Set when uninstall begins: from then on nothing is (re)installed and plugin requests are turned away. */
  private volatile boolean uninstalling;
  private volatile boolean cniConfigInstalled;
  private volatile Instant lastBeat;

  public NodeAgent(AgentSettings settings, PodDirectory pods, NetnsIptables iptables, CniInstaller installer,
      Clock clock) {
    this.nodeName = settings.get(AgentSettings.NODE_NAME);
    this.meshOptions = settings.meshOptions();
    this.capturePort = settings.get(SharedFlags.CAPTURE_PORT);
    this.soMark = settings.get(SharedFlags.SO_MARK);
    this.pinDir = settings.pinDir();
    this.spool = new Spool(Path.of(settings.get(AgentSettings.CNI_SPOOL_DIR)));
    this.cniTimeout = settings.get(AgentSettings.CNI_TIMEOUT);
    this.gcGrace = settings.get(AgentSettings.GC_GRACE);
    this.resyncInterval = settings.get(AgentSettings.RESYNC_INTERVAL);
    this.pods = pods;
    this.iptables = iptables;
    this.installer = installer;
    this.clock = clock;
    this.lastBeat = clock.instant();
    this.metrics = new AgentMetrics(this::countByState);
    this.failPolicy = settings.get(AgentSettings.CNI_FAIL_POLICY);
    this.listenerWait = settings.get(AgentSettings.LISTENER_WAIT);
    this.pinReportInterval = settings.get(AgentSettings.PIN_REPORT_INTERVAL);
    String podName = settings.get(AgentSettings.POD_NAME);
    this.reporter = settings.controlPlaneAddress()
        .map(address -> new PinReporter(address, nodeName, podName.isEmpty() ? "node-agent-" + nodeName : podName,
            settings.get(AgentSettings.CONTROL_PLANE_TOKEN_FILE),
            settings.get(AgentSettings.CONTROL_PLANE_CA_FILE).isEmpty() ? null : new PinReporter.TlsFiles(
                settings.get(AgentSettings.CONTROL_PLANE_CA_FILE), settings.get(AgentSettings.CONTROL_PLANE_CERT_FILE),
                settings.get(AgentSettings.CONTROL_PLANE_KEY_FILE)),
            settings.get(AgentSettings.CONTROL_PLANE_SERVER_NAME),
            settings.get(AgentSettings.CONTROL_PLANE_SOURCE_ADDRESS)))
        .orElse(null);
    this.reportThread = new Thread(this::reportLoop, "nodemesh-agent-pins");
    this.reportThread.setDaemon(true);
    this.loop = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new PriorityBlockingQueue<>(), runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-agent-loop");
      thread.setDaemon(true);
      return thread;
    });
    this.timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-agent-timer");
      thread.setDaemon(true);
      return thread;
    });
  }

  /**
   * Creates the directories, installs the plugin (when configured), starts the informers, the spool watch and
   * the periodic resync. Plugin requests are served at once (with a direct API read while the caches fill);
   * the first full reconcile runs when the caches are complete.
   */
  public void start() throws IOException {
    spool.create();
    Files.createDirectories(pinDir);
    if (installer != null) {
      syncCniConfig();
    }
    // Requests waiting in the spool (an ADD the previous agent left) go first: they carry the CNI IPs, without
    // which a pin of a pod that is still starting could not be reported, and the first report would withdraw it.
    queueSpool();
    pods.start(new PodDirectory.Listener() {
      @Override
      public void podChanged(String uid) {
        dirtyPods.add(uid);
        queueEvents();
      }

      @Override
      public void namespaceChanged(String name) {
        // few and rare; re-evaluating every pin is cheap next to the cost of missing an opt-in change
        queueResyncAll();
      }

      @Override
      public void synced() {
        log.info("pod and namespace caches synced; reconciling every pin");
        queueResyncAll();
      }
    });
    watchService = FileSystems.getDefault().newWatchService();
    spool.requests().register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
    // the main CNI rewriting its configuration (and dropping our entry) must not wait for the next resync
    Path confWatch = installer != null && Files.isDirectory(installer.confDir()) ? installer.confDir() : null;
    if (confWatch != null) {
      confWatch.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    }
    watcher = new Thread(() -> watch(confWatch), "nodemesh-agent-watch");
    watcher.setDaemon(true);
    watcher.start();
    // inotify can overflow or miss a directory created late: a cheap listing every second is the safety net
    timer.scheduleWithFixedDelay(this::queueSpool, 0, 1, TimeUnit.SECONDS);
    timer.scheduleWithFixedDelay(this::queueResyncAll, resyncInterval.toMillis(), resyncInterval.toMillis(),
        TimeUnit.MILLISECONDS);
    timer.scheduleWithFixedDelay(() -> submit(PRIORITY_RESYNC, () -> lastBeat = clock.instant()), 5, 5,
        TimeUnit.SECONDS);
    if (reporter != null) {
      reportThread.start();
    }
    log.info("node agent serving {} (pins in {}, capture port {}, SO_MARK {})", spool.root(), pinDir, capturePort,
        soMark);
  }

  private void watch(Path confDir) {
    WatchService service = watchService;
    try {
      while (true) {
        WatchKey key = service.take();
        boolean conf = confDir != null && confDir.equals(key.watchable());
        key.pollEvents();
        key.reset();
        if (conf) {
          submit(PRIORITY_EVENT, this::syncCniConfig);
        } else {
          queueSpool();
        }
      }
    } catch (ClosedWatchServiceException | InterruptedException e) {
      // closing
    }
  }

  // ---- work submission (any thread) ----

  private void submit(int priority, Runnable body) {
    if (!loop.isShutdown()) {
      loop.execute(new Task(priority, sequence.incrementAndGet(), body));
    }
  }

  private <T> CompletableFuture<T> call(int priority, Supplier<T> body) {
    CompletableFuture<T> result = new CompletableFuture<>();
    submit(priority, () -> {
      try {
        result.complete(body.get());
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
    return result;
  }

  private void queueSpool() {
    if (spoolQueued.compareAndSet(false, true)) {
      submit(PRIORITY_CNI, () -> {
        spoolQueued.set(false); // requests arriving from now on queue another pass
        serveSpool();
      });
    }
  }

  private void queueEvents() {
    if (eventsQueued.compareAndSet(false, true)) {
      submit(PRIORITY_EVENT, () -> {
        eventsQueued.set(false);
        List<String> uids = new ArrayList<>(dirtyPods);
        dirtyPods.removeAll(uids);
        if (!pods.synced() || uninstalling) {
          return; // the full reconcile after sync covers these
        }
        for (String uid : uids) {
          ListenerWait wait = waits.get(uid);
          if (wait != null && wait.decision != null
              && pods.byUid(uid).map(PodInfo::terminating).orElse(true)) {
            // deleted while its ADD waits: its listener will never come; the plugin removes the pin (closed)
            waits.remove(uid);
            wait.deadline.cancel(false);
            release(uid);
            pins.remove(uid);
            finish(wait.pending, wait.request, CniAnswer.error("the pod was deleted while its ADD waited"));
          }
          if (Files.exists(pinDir.resolve(uid))) {
            reconcilePin(uid);
          }
        }
        publish();
      });
    }
  }

  private void queueResyncAll() {
    if (resyncAllQueued.compareAndSet(false, true)) {
      submit(PRIORITY_RESYNC, () -> {
        resyncAllQueued.set(false);
        reconcileAll();
      });
    }
  }

  /** Runs a full reconcile now (after whatever is queued before it) and completes when it is done. */
  public CompletableFuture<Void> reconcileNow() {
    return call(PRIORITY_RESYNC, () -> {
      reconcileAll();
      return null;
    });
  }

  // ---- CNI requests (agent loop) ----

  private void serveSpool() {
    List<Spool.Pending> pending;
    try {
      pending = spool.pending();
    } catch (IOException e) {
      log.warn("cannot list {}: {}", spool.requests(), e.toString());
      return;
    }
    for (Spool.Pending request : pending) {
      serve(request);
    }
  }

  private void serve(Spool.Pending pending) {
    if (deferredRequests.contains(pending.id())) {
      return; // answered when the node's Envoys hold (or dropped) the pod's listener
    }
    try {
      Optional<String> text = spool.read(pending);
      if (text.isEmpty()) {
        return;
      }
      if (pending.written().isBefore(clock.instant().minus(cniTimeout).minusSeconds(5))) {
        log.info("dropping request {}: older than the plugin's timeout, nobody waits for it", pending.id());
        spool.discard(pending);
        return;
      }
      if (!CniRequest.ID.matcher(pending.id()).matches()) {
        log.warn("discarding a spool file with an unexpected name: {}", OutboundExclusions.printable(pending.id()));
        spool.discard(pending);
        return;
      }
      if (uninstalling) {
        // the plugin fails the ADD (closed) and the runtime retries it without nodemesh in the chain
        spool.answer(pending.id(), CniAnswer.error(UNINSTALLING));
        return;
      }
      CniRequest request;
      try {
        request = CniRequest.parse(pending.id(), text.get(), pinDir);
      } catch (IllegalArgumentException e) {
        log.warn("malformed plugin request {}: {}", pending.id(), e.getMessage());
        spool.answer(pending.id(), CniAnswer.error("malformed request: " + e.getMessage()));
        return;
      }
      CniAnswer answer;
      try {
        answer = switch (request.command()) {
          case ADD -> add(request, pending);
          case CHECK -> check(request);
          case DEL -> del(request, pending);
        };
      } catch (RuntimeException e) {
        log.warn("{} for pod {}/{} failed", request.command(), request.podNamespace(), request.podName(), e);
        answer = CniAnswer.error(request.command() + " failed: " + e);
      }
      if (answer == null) {
        deferredRequests.add(pending.id());
        publish();
        return;
      }
      finish(pending, request, answer);
    } catch (IOException e) {
      log.warn("cannot answer request {}: {}", pending.id(), e.toString());
    }
  }

  /** Writes the answer the plugin waits for, and counts it. */
  private void finish(Spool.Pending pending, CniRequest request, CniAnswer answer) {
    deferredRequests.remove(pending.id());
    try {
      spool.answer(pending.id(), answer);
    } catch (IOException e) {
      log.warn("cannot answer request {}: {}", pending.id(), e.toString());
      return;
    }
    double seconds = Math.max(0, Duration.between(pending.written(), clock.instant()).toNanos() / 1e9);
    metrics.cniRequest(request.command(), answer.status(), seconds);
    log.info("CNI {} {}/{} ({}): {} - {}", request.command(), request.podNamespace(), request.podName(),
        request.podUid(), answer.status(), answer.message());
    publish();
  }

  /** The answer, or null when it waits for the node's Envoys (then {@link #onHoldings} or the deadline gives it). */
  private CniAnswer add(CniRequest request, Spool.Pending pending) {
    PodLookup found = lookUp(request);
    if (found.error() != null) {
      return found.error();
    }
    Optional<PodInfo> pod = found.pod();
    NamespaceInfo namespace = found.namespace();
    Optional<String> mismatch = identityProblem(request, pod);
    if (mismatch.isPresent()) {
      PinStatus status = ensure(request.podUid(), request.podNamespace(), request.podName(),
          Decision.notMeshed(mismatch.get()));
      return answerFor(status);
    }
    cniIps.put(request.podUid(), request.ips());
    Decision decision = decide(pod.get(), namespace, request.ips());
    String uid = request.podUid();
    if (reporter != null && decision.kind() == Decision.Kind.MESHED && !confirmed.contains(uid)) {
      announce(uid, request.podNamespace(), request.podName(), decision.ips());
      ListenerWait previous = waits.remove(uid);
      if (previous != null) {
        previous.deadline.cancel(false);
        finish(previous.pending, previous.request, CniAnswer.error("superseded by a newer ADD of the same pod"));
      }
      ListenerWait wait = new ListenerWait(pending, request, decision, clock.instant());
      wait.deadline = timer.schedule(() -> submit(PRIORITY_CNI, () -> expire(uid, wait)),
          listenerWait.toMillis(), TimeUnit.MILLISECONDS);
      waits.put(uid, wait);
      pins.put(uid, status(uid, request.podNamespace(), request.podName(), State.WAITING_FOR_LISTENER,
          "waiting up to " + listenerWait.toMillis() + " ms for every Envoy of the node to hold the pod's listener",
          "", ImmutableList.of()));
      fastReports = true;
      reportKick.release();
      return null;
    }
    PinStatus status = ensure(uid, request.podNamespace(), request.podName(), decision);
    return answerFor(status);
  }

  /** A CNI request's pod and namespace from the API's caches, or the error answer when they cannot be read. */
  private record PodLookup(Optional<PodInfo> pod, NamespaceInfo namespace, CniAnswer error) {}

  private PodLookup lookUp(CniRequest request) {
    try {
      Optional<PodInfo> pod = pods.lookup(request.podNamespace(), request.podName());
      return new PodLookup(pod, pod.isPresent() ? pods.namespace(request.podNamespace()).orElse(null) : null, null);
    } catch (RuntimeException e) {
      // never guess: fail-closed plugins turn this into "try again later"
      return new PodLookup(Optional.empty(), null, CniAnswer.error("cannot read pod " + request.podNamespace() + "/"
          + request.podName() + " from the Kubernetes API: " + e.getMessage()));
    }
  }

  private CniAnswer check(CniRequest request) {
    PodLookup found = lookUp(request);
    if (found.error() != null) {
      return found.error();
    }
    Optional<PodInfo> pod = found.pod();
    NamespaceInfo namespace = found.namespace();
    Decision decision = identityProblem(request, pod).map(Decision::notMeshed)
        .orElseGet(() -> decide(pod.get(), namespace, cniIps.getOrDefault(request.podUid(), request.ips())));
    RedirectRules.NatState state;
    try {
      state = RedirectRules.NatState.parse(iptables.saveNat(request.pin()));
    } catch (IOException e) {
      return CniAnswer.error("cannot read the pod's nat table: " + e.getMessage());
    }
    return switch (decision.kind()) {
      case MESHED -> RedirectRules.drift(decision.spec(), state)
          .map(drift -> CniAnswer.error("redirect rules drifted: " + drift))
          .orElseGet(() -> CniAnswer.ok("redirect rules in place (signature " + decision.spec().signature() + ")"));
      case NOT_MESHED -> state.absent()
          ? CniAnswer.skip("not meshed: " + decision.reason())
          : CniAnswer.error("redirect rules present but the pod is not meshed: " + decision.reason());
      case UNDECIDED -> CniAnswer.skip(decision.reason());
    };
  }

  /**
   * Removes the redirect, then tells the control plane the pin is being released and, when the pod had a
   * listener, answers once no Envoy of the node holds it (or after the wait): the pin must outlive the listener.
   */
  private CniAnswer del(CniRequest request, Spool.Pending pending) {
    String uid = request.podUid();
    cniIps.remove(uid);
    orphanSince.remove(uid);
    pins.remove(uid);
    awaitingListener.remove(uid);
    ListenerWait adding = waits.remove(uid);
    if (adding != null) {
      adding.deadline.cancel(false);
      finish(adding.pending, adding.request, CniAnswer.error("the pod's sandbox is being deleted"));
    }
    boolean hadListener = release(uid);
    if (!Files.exists(request.pin())) {
      return CniAnswer.ok("no pin, nothing to remove");
    }
    try {
      removeRules(request.pin());
    } catch (IOException e) {
      metrics.ruleError();
      return CniAnswer.error("cannot remove the redirect rules: " + e.getMessage());
    }
    if (!hadListener) {
      return CniAnswer.ok("redirect rules removed");
    }
    ListenerWait wait = new ListenerWait(pending, request, null, clock.instant());
    wait.deadline = timer.schedule(() -> submit(PRIORITY_CNI, () -> expire(uid, wait)),
        Math.min(listenerWait.toMillis(), DEL_WAIT_MAX_MILLIS), TimeUnit.MILLISECONDS);
    waits.put(uid, wait);
    fastReports = true;
    reportKick.release();
    return null;
  }

  /** A plugin request and the API disagree about which pod this is: not ours to mesh. */
  private Optional<String> identityProblem(CniRequest request, Optional<PodInfo> pod) {
    if (pod.isEmpty()) {
      return Optional.of("pod not found in the Kubernetes API");
    }
    if (!pod.get().uid().equals(request.podUid())) {
      return Optional.of("the API's pod " + request.podNamespace() + "/" + request.podName()
          + " has another UID (a static pod's mirror, or the pod was replaced)");
    }
    if (!pod.get().nodeName().equals(Optional.of(nodeName))) {
      return Optional.of("the pod is scheduled to node " + pod.get().nodeName().orElse("(none)") + ", this is "
          + nodeName);
    }
    return Optional.empty();
  }

  private static CniAnswer answerFor(PinStatus status) {
    return switch (status.state()) {
      case REDIRECTED -> CniAnswer.ok("outbound TCP redirected (signature " + status.signature() + ")"
          + (status.problems().isEmpty() ? "" : "; " + String.join("; ", status.problems())));
      case NOT_MESHED, UNDECIDED, ORPHANED -> CniAnswer.skip(status.reason());
      case ERROR, WAITING_FOR_LISTENER -> CniAnswer.error(status.reason());
    };
  }

  // ---- decisions and rules (agent loop) ----

  /** The mesh decision for a pod, with the redirect it needs and (meshed) the IPs it was decided with. */
  record Decision(Kind kind, String reason, RedirectRules.Spec spec, ImmutableList<String> ips) {
    enum Kind { MESHED, NOT_MESHED, UNDECIDED }

    static Decision notMeshed(String reason) {
      return new Decision(Kind.NOT_MESHED, reason, null, ImmutableList.of());
    }

    static Decision undecided(String reason) {
      return new Decision(Kind.UNDECIDED, reason, null, ImmutableList.of());
    }
  }

  Decision decide(PodInfo pod, NamespaceInfo namespace, List<String> knownIps) {
    ImmutableList<String> ips = !pod.ips().isEmpty() ? pod.ips() : ImmutableList.copyOf(knownIps);
    if (ips.isEmpty() && pod.nodeName().isPresent() && !pod.hostNetwork() && !pod.phase().terminal()) {
      return Decision.undecided("no pod IP known yet (the API publishes it after CNI ADD)");
    }
    MeshStatus status = MeshPolicy.evaluate(pod.withIps(ips), namespace, meshOptions);
    if (!status.meshed()) {
      return Decision.notMeshed(status.reason());
    }
    OutboundExclusions exclusions = OutboundExclusions.fromAnnotations(pod.annotations());
    return new Decision(Decision.Kind.MESHED, "meshed", new RedirectRules.Spec(capturePort, soMark, exclusions), ips);
  }

  /** Brings one pin to what the decision says and records the outcome. */
  private PinStatus ensure(String uid, String namespace, String name, Decision decision) {
    Path pin = pinDir.resolve(uid);
    PinStatus status;
    try {
      switch (decision.kind()) {
        case MESHED -> {
          RedirectRules.Spec spec = decision.spec();
          if (reporter != null && !confirmed.contains(uid)
              && RedirectRules.NatState.parse(iptables.saveNat(pin)).absent()) {
            // a redirect to a port nobody listens on refuses the pod's connections: it follows the listener
            announce(uid, namespace, name, decision.ips());
            awaitingListener.add(uid);
            podsAwaitListener = true;
            awaitingPace.reset();
            reportKick.release();
            PinStatus waiting = status(uid, namespace, name, State.WAITING_FOR_LISTENER,
                "meshed; the redirect is installed once every Envoy of the node holds the pod's listener", "",
                ImmutableList.of());
            pins.put(uid, waiting);
            return waiting;
          }
          installRules(pin, spec);
          spec.exclusions().problems().forEach(problem -> {
            log.warn("pod {}/{}: {}", namespace, name, problem);
          });
          if (!spec.exclusions().problems().isEmpty() && !Optional.ofNullable(pins.get(uid))
              .map(previous -> previous.problems().equals(spec.exclusions().problems())).orElse(false)) {
            metrics.rejectedAnnotation();
          }
          status = status(uid, namespace, name, State.REDIRECTED, "meshed", spec.signature(),
              spec.exclusions().problems());
        }
        case NOT_MESHED -> {
          if (Files.exists(pin)) {
            removeRules(pin);
          }
          status = status(uid, namespace, name, State.NOT_MESHED, decision.reason(), "", ImmutableList.of());
        }
        default -> status = status(uid, namespace, name, State.UNDECIDED, decision.reason(),
            Optional.ofNullable(pins.get(uid)).map(PinStatus::signature).orElse(""), ImmutableList.of());
      }
    } catch (IOException e) {
      if (!Files.exists(pin)) {
        // a DEL removed the pin while we worked on it: nothing left to do, and nothing went wrong
        pins.remove(uid);
        return status(uid, namespace, name, State.UNDECIDED, decision.reason() + " (pin removed meanwhile)", "",
            ImmutableList.of());
      }
      metrics.ruleError();
      log.warn("pod {}/{} ({}): {}", namespace, name, uid, e.getMessage());
      status = status(uid, namespace, name, State.ERROR, "iptables in the pod's namespace failed: " + e.getMessage(),
          "", ImmutableList.of());
    }
    pins.put(uid, status);
    return status;
  }

  private PinStatus status(String uid, String namespace, String name, State state, String reason, String signature,
      ImmutableList<String> problems) {
    return new PinStatus(uid, namespace, name, state, reason, signature, problems, clock.instant());
  }

  private void installRules(Path pin, RedirectRules.Spec spec) throws IOException {
    RedirectRules.NatState before = RedirectRules.NatState.parse(iptables.saveNat(pin));
    Optional<String> drift = RedirectRules.drift(spec, before);
    if (drift.isEmpty()) {
      return;
    }
    iptables.restore(pin, RedirectRules.applyPayload(spec, before));
    RedirectRules.NatState after = RedirectRules.NatState.parse(iptables.saveNat(pin));
    Optional<String> still = RedirectRules.drift(spec, after);
    if (still.isPresent()) {
      throw new IOException("rules written but not in place: " + still.get());
    }
    if (before.absent()) {
      metrics.ruleChange("installed");
    } else {
      metrics.ruleChange("repaired");
      log.info("repaired redirect rules in {}: {}", pin, drift.get());
    }
  }

  private void removeRules(Path pin) throws IOException {
    RedirectRules.NatState before = RedirectRules.NatState.parse(iptables.saveNat(pin));
    if (before.absent()) {
      return;
    }
    iptables.restore(pin, RedirectRules.removePayload(before));
    if (!RedirectRules.NatState.parse(iptables.saveNat(pin)).absent()) {
      throw new IOException("rules removed but still there");
    }
    metrics.ruleChange("removed");
  }

  // ---- listeners: pin reports and waits (agent loop, except the report thread) ----

  /** A CNI request waiting for the node's Envoys; {@code decision} is null for DEL. */
  private static final class ListenerWait {
    final Spool.Pending pending;
    final CniRequest request;
    final Decision decision;
    final Instant started;
    ScheduledFuture<?> deadline;

    ListenerWait(Spool.Pending pending, CniRequest request, Decision decision, Instant started) {
      this.pending = pending;
      this.request = request;
      this.decision = decision;
      this.started = started;
    }
  }

  /** Tells the control plane the pod's pin is ready (its listener may be pushed), with the IPs CNI gave it. */
  private void announce(String uid, String namespace, String name, List<String> ips) {
    Pin pin = Pin.newBuilder().setPodUid(uid).setNamespace(namespace).setName(name).addAllIps(ips).build();
    if (!pin.equals(reported.put(uid, pin))) {
      publishReport();
    }
  }

  /** Tells the control plane the pod's pin is being released; true when it was announced before. */
  private boolean release(String uid) {
    Pin previous = reported.get(uid);
    if (previous == null || previous.getReleasing()) {
      return previous != null;
    }
    reported.put(uid, previous.toBuilder().setReleasing(true).build());
    publishReport();
    return true;
  }

  private void publishReport() {
    reportSnapshot = ImmutableList.copyOf(reported.values());
    reportKick.release();
  }

  /** The report thread: every pin to every replica, fast while something waits, else every interval. */
  private void reportLoop() {
    while (!Thread.currentThread().isInterrupted()) {
      try {
        // an agent that just started reports once it knows its pins, not an empty set that would unpin them all
        if (reconciledOnce || fastReports || podsAwaitListener) {
          ImmutableList<Pin> snapshot = reportSnapshot;
          PinReporter.Holdings holdings = reporter.report(snapshot).get(10, TimeUnit.SECONDS);
          submit(PRIORITY_CNI, () -> onHoldings(holdings, snapshot));
        }
        long pace = fastReports ? FAST_REPORT_MILLIS
            : podsAwaitListener ? awaitingPace.next() : pinReportInterval.toMillis();
        reportKick.tryAcquire(pace, TimeUnit.MILLISECONDS);
        reportKick.drainPermits();
      } catch (InterruptedException e) {
        return;
      } catch (ExecutionException | TimeoutException | RuntimeException e) {
        log.warn("pin report failed: {}", e.toString());
        try {
          Thread.sleep(FAST_REPORT_MILLIS);
        } catch (InterruptedException interrupted) {
          return;
        }
      }
    }
  }

  /** Applies what the replicas said to the waiting requests and the pods that started without redirect. */
  private void onHoldings(PinReporter.Holdings holdings, ImmutableList<Pin> sent) {
    lastHoldings = holdings;
    metrics.pinReport(holdings.replicasAnswered(), holdings.failures().size());
    if (!holdings.failures().isEmpty()) {
      log.debug("pin report: {} replica(s) answered, failures: {}", holdings.replicasAnswered(), holdings.failures());
    }
    Set<String> held = new HashSet<>();
    Set<String> releasedAndGone = new HashSet<>();
    for (Pin pin : sent) {
      if (!pin.getReleasing() && holdings.everyEnvoyHolds(pin.getPodUid())) {
        held.add(pin.getPodUid());
      } else if (pin.getReleasing() && !holdings.unknown() && holdings.noEnvoyHolds(pin.getPodUid())) {
        releasedAndGone.add(pin.getPodUid());
      }
    }
    confirmed = Set.copyOf(held);
    for (Map.Entry<String, ListenerWait> entry : List.copyOf(waits.entrySet())) {
      String uid = entry.getKey();
      ListenerWait wait = entry.getValue();
      boolean add = wait.decision != null;
      if (add ? !held.contains(uid) : !releasedAndGone.contains(uid)) {
        continue;
      }
      waits.remove(uid);
      wait.deadline.cancel(false);
      metrics.listenerWait(wait.request.command(), add ? "held" : "removed", secondsSince(wait.started));
      if (add) {
        PinStatus status = ensure(uid, wait.request.podNamespace(), wait.request.podName(), wait.decision);
        finish(wait.pending, wait.request, answerFor(status));
      } else {
        finish(wait.pending, wait.request, CniAnswer.ok("redirect rules removed; no Envoy of the node holds the"
            + " pod's listener any more"));
      }
    }
    for (String uid : List.copyOf(awaitingListener)) {
      if (held.contains(uid)) {
        awaitingListener.remove(uid);
        reconcilePin(uid);
      }
    }
    fastReports = !waits.isEmpty();
    podsAwaitListener = !awaitingListener.isEmpty();
    publish();
  }

  /** A wait reached its deadline: ADD fails (the plugin applies its fail policy), DEL releases the pin anyway. */
  private void expire(String uid, ListenerWait wait) {
    if (waits.get(uid) != wait) {
      return;
    }
    waits.remove(uid);
    PinReporter.Holdings holdings = lastHoldings;
    String reason = holdings == null || holdings.unknown() ? "no_answer"
        : holdings.streamsByEnvoy().isEmpty() ? "no_envoy" : "not_held";
    String detail = switch (reason) {
      case "no_answer" -> "no control plane replica answered"
          + (holdings == null ? "" : ": " + String.join("; ", holdings.failures()));
      case "no_envoy" -> "no Envoy of this node is connected to the control plane";
      default -> "Envoy(s) " + holdings.envoysWithout(uid) + " did not ACK it";
    };
    CniRequest request = wait.request;
    metrics.listenerWaitTimeout(request.command(), reason);
    metrics.listenerWait(request.command(), "timed_out", secondsSince(wait.started));
    if (wait.decision == null) {
      finish(wait.pending, request, CniAnswer.ok("redirect rules removed; the listener's removal was not confirmed"
          + " within the wait (" + detail + ")"));
      return;
    }
    String message = "the node's Envoys did not hold the pod's listener within " + listenerWait.toMillis()
        + " ms: " + detail;
    log.warn("pod {}/{} ({}): {}", request.podNamespace(), request.podName(), uid, message);
    if (failPolicy == FailPolicy.OPEN) {
      // the plugin starts the pod with its pin; the redirect follows the listener
      awaitingListener.add(uid);
      awaitingPace.reset();
      pins.put(uid, status(uid, request.podNamespace(), request.podName(), State.WAITING_FOR_LISTENER,
          "started without redirect (fail-open): " + message, "", ImmutableList.of()));
    } else {
      // the plugin removes the pin and fails the ADD; the kubelet retries with a new one
      release(uid);
      pins.remove(uid);
    }
    fastReports = !waits.isEmpty();
    podsAwaitListener = !awaitingListener.isEmpty();
    finish(wait.pending, request, CniAnswer.error(message));
  }

  private double secondsSince(Instant start) {
    return Math.max(0, Duration.between(start, clock.instant()).toNanos() / 1e9);
  }

  // ---- reconcile and garbage collection (agent loop) ----

  private void reconcileAll() {
    if (uninstalling) {
      return;
    }
    List<String> uids;
    try {
      uids = pinnedUids();
    } catch (IOException e) {
      log.warn("cannot list pins in {}: {}", pinDir, e.toString());
      return;
    }
    for (String uid : uids) {
      reconcilePin(uid);
    }
    pins.keySet().retainAll(uids);
    orphanSince.keySet().retainAll(uids);
    cniIps.keySet().retainAll(uids);
    awaitingListener.retainAll(uids);
    // a released pin is reported until its pod is gone: the API may show the pod (and its IP) for a while
    boolean unreported = reported.entrySet().removeIf(entry -> !uids.contains(entry.getKey())
        && !waits.containsKey(entry.getKey())
        && (!entry.getValue().getReleasing() || (pods.synced() && pods.byUid(entry.getKey()).isEmpty())));
    if (unreported) {
      publishReport();
    }
    try {
      int removed = spool.collectGarbage(clock.instant(), cniTimeout.multipliedBy(2).plusSeconds(60));
      if (removed > 0) {
        log.info("removed {} stale spool file(s)", removed);
      }
    } catch (IOException e) {
      log.warn("spool garbage collection failed: {}", e.toString());
    }
    if (installer != null) {
      syncCniConfig();
    }
    if (pods.synced()) {
      reconciledOnce = true;
    }
    publish();
  }

  private void reconcilePin(String uid) {
    Path pin = pinDir.resolve(uid);
    if (!Files.exists(pin)) {
      pins.remove(uid);
      return;
    }
    Optional<PodInfo> pod = pods.byUid(uid);
    if (pod.isEmpty()) {
      if (!pods.synced()) {
        pins.put(uid, status(uid, "", "", State.UNDECIDED, "waiting for the pod cache to sync", "", ImmutableList.of()));
        return;
      }
      // The cache may lag behind a pod that just started: before calling a pin orphaned, ask the API about the
      // pod its owner record names.
      Optional<String[]> owner = spool.ownerPod(uid);
      if (owner.isPresent()) {
        try {
          pod = pods.lookup(owner.get()[0], owner.get()[1]).filter(found -> found.uid().equals(uid));
        } catch (RuntimeException e) {
          pins.put(uid, status(uid, owner.get()[0], owner.get()[1], State.UNDECIDED,
              "pod not in the cache and the API is not reachable: " + e.getMessage(), "", ImmutableList.of()));
          return;
        }
      }
    }
    if (pod.isEmpty()) {
      Instant since = orphanSince.computeIfAbsent(uid, key -> clock.instant());
      if (!clock.instant().isBefore(since.plus(gcGrace))) {
        collect(uid, pin);
      } else {
        pins.put(uid, status(uid, "", "", State.ORPHANED, "no pod with this UID on this node since " + since
            + "; removed after " + gcGrace.toSeconds() + " s", "", ImmutableList.of()));
      }
      return;
    }
    orphanSince.remove(uid);
    PodInfo info = pod.get();
    NamespaceInfo namespace;
    try {
      namespace = pods.namespace(info.namespace()).orElse(null);
    } catch (RuntimeException e) {
      pins.put(uid, status(uid, info.namespace(), info.name(), State.UNDECIDED,
          "namespace not readable: " + e.getMessage(), "", ImmutableList.of()));
      return;
    }
    Decision decision = decide(info, namespace, cniIps.getOrDefault(uid, ImmutableList.of()));
    if (reporter != null && decision.kind() == Decision.Kind.MESHED && !waits.containsKey(uid)) {
      announce(uid, info.namespace(), info.name(), decision.ips());
    } else if (decision.kind() == Decision.Kind.NOT_MESHED && !waits.containsKey(uid)) {
      release(uid);
    }
    if (waits.containsKey(uid)) {
      return; // its CNI request decides
    }
    ensure(uid, info.namespace(), info.name(), decision);
  }

  /** Removes a pin whose pod is gone: unmount (propagates to the host), delete the file and its owner record. */
  private void collect(String uid, Path pin) {
    try {
      Mounts.unmountAll(pin);
      Files.deleteIfExists(pin);
      Files.deleteIfExists(spool.owner(uid));
      pins.remove(uid);
      orphanSince.remove(uid);
      cniIps.remove(uid);
      metrics.pinCollected();
      log.info("removed the pin of pod {}: no such pod on this node for {} s", uid, gcGrace.toSeconds());
    } catch (IOException e) {
      pins.put(uid, status(uid, "", "", State.ERROR, "cannot remove the orphaned pin: " + e.getMessage(), "",
          ImmutableList.of()));
    }
  }

  private List<String> pinnedUids() throws IOException {
    List<String> uids = new ArrayList<>();
    if (!Files.isDirectory(pinDir)) {
      return uids;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(pinDir)) {
      for (Path entry : entries) {
        String name = entry.getFileName().toString();
        if (UID.matcher(name).matches()) {
          uids.add(name);
        }
      }
    }
    uids.sort(null);
    return uids;
  }

  private void syncCniConfig() {
    if (uninstalling) {
      return;
    }
    try {
      CniInstaller.Outcome outcome = installer.install();
      if (outcome == CniInstaller.Outcome.INSTALLED) {
        metrics.cniConfigWritten();
        log.info("nodemesh-cni (re)installed and chained into {}", installer.primary().orElse(null));
      } else if (outcome == CniInstaller.Outcome.NO_CONFIG_YET) {
        log.info("no CNI configuration on this node yet; nodemesh-cni is chained once the main CNI writes one");
      }
      cniConfigInstalled = installer.installed();
    } catch (IOException e) {
      cniConfigInstalled = false;
      log.warn("cannot install the CNI plugin: {}", e.toString());
    }
  }

  private void publish() {
    published = ImmutableSortedMap.copyOf(pins);
  }

  // ---- views (any thread) ----

  /** Every pin's state as of the last operation. */
  public ImmutableMap<String, PinStatus> pins() {
    return published;
  }

  private Map<String, Long> countByState() {
    Map<String, Long> counts = new TreeMap<>();
    for (State state : State.values()) {
      counts.put(state.name().toLowerCase(java.util.Locale.ROOT), 0L);
    }
    published.values().forEach(pin -> counts.merge(pin.state().name().toLowerCase(java.util.Locale.ROOT), 1L, Long::sum));
    return counts;
  }

  public AgentMetrics metrics() {
    return metrics;
  }

  /** Alive: the agent loop ran its heartbeat within the last two minutes. */
  public boolean healthy() {
    return Duration.between(lastBeat, clock.instant()).compareTo(Duration.ofMinutes(2)) < 0;
  }

  /** Ready: caches synced, every pin reconciled once, and the plugin chained (when the agent manages it). */
  public boolean ready() {
    return pods.synced() && reconciledOnce && (installer == null || cniConfigInstalled);
  }

  /** Why {@link #ready()} is false, for {@code /readyz}. */
  public List<String> notReadyReasons() {
    List<String> reasons = new ArrayList<>();
    if (!pods.synced()) {
      reasons.add("pod/namespace caches not synced");
    }
    if (!reconciledOnce) {
      reasons.add("pins not reconciled yet");
    }
    if (installer != null && !cniConfigInstalled) {
      reasons.add("nodemesh-cni not chained into the node's CNI configuration");
    }
    return reasons;
  }

  // ---- stop and uninstall ----

  /**
   * Removes everything the agent and plugin put on the node: the conflist entry and executable first (no new
   * pod is handed to the plugin), then the rules of every pinned pod (their traffic goes direct again — Envoy is
   * going away too), then the pins. Requests still waiting get an error, so a fail-closed plugin fails the pod
   * start and the runtime retries it with the plugin gone from the chain.
   */
  public CompletableFuture<Void> uninstall() {
    uninstalling = true;
    return call(PRIORITY_CNI, () -> {
      if (installer != null) {
        try {
          installer.uninstall();
          cniConfigInstalled = false;
          log.info("nodemesh-cni removed from the CNI configuration and {}", installer.pluginPath().getParent());
        } catch (IOException e) {
          log.error("cannot remove nodemesh-cni from the CNI configuration", e);
        }
      }
      try {
        for (Spool.Pending request : spool.pending()) {
          spool.answer(request.id(), CniAnswer.error(UNINSTALLING));
        }
        for (String uid : pinnedUids()) {
          Path pin = pinDir.resolve(uid);
          try {
            removeRules(pin);
          } catch (IOException e) {
            log.warn("cannot remove the rules of pod {}: {}", uid, e.getMessage());
          }
          collect(uid, pin);
        }
      } catch (IOException e) {
        log.error("uninstall incomplete", e);
      }
      publish();
      return null;
    });
  }

  @Override
  public void close() {
    timer.shutdownNow();
    reportThread.interrupt();
    if (reporter != null) {
      reporter.close();
    }
    WatchService service = watchService;
    if (service != null) {
      try {
        service.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    pods.close();
    loop.shutdown();
    try {
      if (!loop.awaitTermination(15, TimeUnit.SECONDS)) {
        loop.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      loop.shutdownNow();
    }
  }

  /** A unit of loop work, ordered by priority, then by submission. */
  private record Task(int priority, long sequence, Runnable body) implements Runnable, Comparable<Task> {
    @Override
    public void run() {
      try {
        body.run();
      } catch (RuntimeException e) {
        log.error("agent loop task failed", e);
      }
    }

    @Override
    public int compareTo(Task other) {
      return Comparator.comparingInt(Task::priority).thenComparingLong(Task::sequence).compare(this, other);
    }
  }
}
