package io.nodemesh.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.grpc.ManagedChannel;
import io.nodemesh.bench.SoakConfig.Fault;
import io.nodemesh.bench.SoakConfig.FaultKind;
import io.nodemesh.e2e.ControlPlaneProcess;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * The soak (issue 9, docs/RELIABILITY.md): one nodemesh control plane, one reconnecting simulated Envoy per node
 * (delta, every n-th SotW), and a writer that changes the cluster through the API for the whole run: churn pods
 * added and deleted (60% of writes), churn pods recreated on another node under the same name (10%), endpoint
 * readiness flaps (20%) and service ports added or removed (10%). Faults are injected on schedule: the control
 * plane killed and restarted, stopped and restarted, the API server restarted with writes going on meanwhile.
 *
 * <p>The harness keeps its own model of what every node must hold (listener names per pod, service cluster names
 * per called service port) from the writes it made. At each checkpoint (periodically, after every fault, at
 * the end) the writer pauses and (1) every client must hold exactly the model's listeners and service clusters
 * with every referenced EDS/RDS resource, and (2) a freshly started reference control plane, reading the same
 * API, is asked for every node's config by fresh clients: every soak client must hold exactly the same
 * resources at the same versions (content hashes), EDS and RDS included. A difference in either is a lost
 * update. Retained heap (forced full GC) is sampled throughout.
 */
final class SoakRun {

  private static final Pattern XDS_READY = Pattern.compile("xDS \\(ADS, SotW and Delta\\) listening on port (\\d+)");
  private static final Duration STARTUP_DEADLINE = Duration.ofSeconds(300);
  private static final int CHANNELS = 20;
  /** Extra service port a service toggles (the benchmark's service change). */
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One heap sample. */
  record Sample(double minute, int controlPlane, long retainedMb, double cpuSeconds, long writes,
      int reconnects, int streaming, int churnPods) {}

  /** One checkpoint: why, how long convergence took, what differed. */
  record Checkpoint(double minute, String reason, double convergeSeconds, int nodesNotConverged,
      int resourcesDiffering, int resourcesCompared, List<String> differences) {
    int lostUpdates() {
      return nodesNotConverged + resourcesDiffering;
    }
  }

  /** A fault as it happened. */
  record Injected(double minute, FaultKind kind, double outageSeconds) {}

  /** What the soak found. */
  record Result(List<Checkpoint> checkpoints, List<Sample> samples, List<Injected> faults, long writes,
      long writeRetries, int reconnects, Map<String, Double> metrics) {
    int lostUpdates() {
      return checkpoints.stream().mapToInt(Checkpoint::lostUpdates).sum();
    }
  }

  private final SoakConfig config;
  private final BenchConfig scale;
  private final Workload workload;
  private final Path out;
  private final long start = System.nanoTime();
  private final List<Sample> samples = new ArrayList<>();
  private final List<Checkpoint> checkpoints = new ArrayList<>();
  private final List<Injected> injected = new ArrayList<>();
  private final SimulatedEnvoy.Stats stats = new SimulatedEnvoy.Stats();
  private final List<SimulatedEnvoy> envoys = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final ScheduledExecutorService reconnector =
      Executors.newSingleThreadScheduledExecutor(BenchRun.daemon("soak-reconnect"));
  private final ExecutorService clientPool = Executors.newFixedThreadPool(4, BenchRun.daemon("soak-envoy"));
  private final HttpClient http = HttpClient.newHttpClient();

  private FastMockKubernetes api;
  /** The API server's stable address (it comes back here after a restart). */
  private String apiUrl;
  private volatile KubernetesClient client;
  /**
   * A second watcher of the API's pods, in the harness: when a client holds a pod the API no longer has, this
   * tells whether the watch stream lost the event (the witness holds it too) or the control plane did.
   */
  private KubernetesClient witnessClient;
  private SharedIndexInformer<Pod> witness;
  private ServerProcess controlPlane;
  private int controlPlanes;
  private int xdsPort;
  private int adminPort;
  private int debugPort;

  // ---- the writer's model; written by the writer thread, read by the main thread only while writes pause
  private final Semaphore writerTurn = new Semaphore(1, true);
  private final Map<String, Workload.ChurnPod> churnPods = new LinkedHashMap<>();
  private final Set<Integer> servicesWithExtraPort = new TreeSet<>();
  private final Random random = new Random(11);
  private final AtomicLong writes = new AtomicLong();
  private final AtomicLong writeRetries = new AtomicLong();
  private volatile boolean writing = true;

  SoakRun(SoakConfig config) {
    this.config = config;
    this.scale = config.workload();
    this.workload = new Workload(scale);
    this.out = config.output();
  }

  Result execute() throws Exception {
    Files.createDirectories(out);
    api = FastMockKubernetes.start();
    int apiPort = api.port();
    apiUrl = api.url();
    client = FastMockKubernetes.bulkClient(apiUrl);
    Thread writer = null;
    try {
      Workload.SeedTimes seed = workload.seed(client);
      witnessClient = FastMockKubernetes.bulkClient(apiUrl);
      witness = witnessClient.pods().inAnyNamespace().inform();
      log("seeded %,d objects in %.1f s", seed.objects(), seed.totalSeconds());
      xdsPort = freePort();
      adminPort = freePort();
      debugPort = freePort();
      startControlPlane();
      for (int c = 0; c < CHANNELS; c++) {
        channels.add(SimulatedEnvoy.channel(xdsPort, clientPool));
      }
      for (int n = 0; n < scale.nodes(); n++) {
        envoys.add(BenchClients.reconnecting(channels.get(n % CHANNELS), "envoy-" + n, Workload.nodeName(n),
            !config.sotw(n), stats, reconnector));
      }
      checkpoint("start", false);

      writer = new Thread(this::writeLoop, "soak-writer");
      writer.setDaemon(true);
      writer.start();
      long churnStart = System.nanoTime();
      long end = churnStart + config.duration().toNanos();
      long nextSample = System.nanoTime() + config.sampleEvery().toNanos();
      long nextCheckpoint = config.checkpointEvery().isZero() ? Long.MAX_VALUE
          : System.nanoTime() + config.checkpointEvery().toNanos();
      List<Fault> faults = new ArrayList<>(config.faults());
      sample();
      // a fault whose time came while an earlier one was still recovering runs late, never not at all
      while (System.nanoTime() < end || !faults.isEmpty()) {
        long now = System.nanoTime();
        if (!faults.isEmpty() && now - churnStart >= faults.get(0).at() * config.duration().toNanos()) {
          FaultKind kind = faults.remove(0).kind();
          inject(kind, apiPort);
          checkpoint("after " + label(kind), true);
        } else if (now >= nextCheckpoint) {
          checkpoint("periodic", true);
          nextCheckpoint = System.nanoTime() + config.checkpointEvery().toNanos();
        } else if (now >= nextSample) {
          sample();
          nextSample += config.sampleEvery().toNanos();
        } else {
          Thread.sleep(200); // pacing the run's timeline, not waiting for a condition
        }
      }
      writing = false;
      writer.join(TimeUnit.SECONDS.toMillis(60));
      sample();
      checkpoint("end", true);
      Map<String, Double> metrics = metrics();
      int reconnects = envoys.stream().mapToInt(SimulatedEnvoy::reconnects).sum();
      Result result = new Result(List.copyOf(checkpoints), List.copyOf(samples), List.copyOf(injected), writes.get(),
          writeRetries.get(), reconnects, metrics);
      String report = report(result, seed);
      Files.writeString(out.resolve("report.md"), report);
      System.out.println(report);
      return result;
    } finally {
      writing = false;
      if (writer != null) {
        writer.interrupt();
      }
      envoys.forEach(SimulatedEnvoy::close);
      channels.forEach(ManagedChannel::shutdownNow);
      reconnector.shutdownNow();
      clientPool.shutdownNow();
      if (controlPlane != null) {
        controlPlane.stop(Duration.ofSeconds(30));
        controlPlane.close();
      }
      if (witness != null) {
        witness.close();
        witnessClient.close();
      }
      client.close();
      api.close();
    }
  }

  // ---- control plane and faults

  private void startControlPlane() throws Exception {
    for (int attempt = 1; ; attempt++) {
      controlPlanes++;
      ServerProcess process = startProcess("nodemesh-" + controlPlanes, xdsPort, adminPort, debugPort);
      try {
        process.awaitLog(XDS_READY, STARTUP_DEADLINE);
        controlPlane = process;
        log("control plane #%d serving on xDS port %d (admin %d)", controlPlanes, xdsPort, adminPort);
        return;
      } catch (IllegalStateException e) {
        process.close();
        if (attempt == 5) {
          throw e;
        }
        log("control plane #%d did not start (%s); retrying", controlPlanes, e.getMessage());
        Thread.sleep(1000); // the port may still be held by the killed process's sockets
      }
    }
  }

  private ServerProcess startProcess(String name, int xds, int admin, int debug) throws IOException {
    List<String> args = new ArrayList<>(List.of("-jar", ControlPlaneProcess.jar().toAbsolutePath().toString(),
        "--xds-port=" + xds, "--admin-port=" + admin, "--debug-port=" + debug));
    args.addAll(ControlPlaneProcess.HARNESS_FLAGS);
    args.addAll(scale.nodemeshFlags());
    return ServerProcess.start(name, out, scale.nodemeshXmx(), false, scale.jvmArgs(), args, apiUrl);
  }

  private void inject(FaultKind kind, int apiPort) throws Exception {
    log("fault: %s", label(kind));
    long t0 = System.nanoTime();
    switch (kind) {
      case CONTROL_PLANE_KILL, CONTROL_PLANE_RESTART -> {
        if (kind == FaultKind.CONTROL_PLANE_KILL) {
          controlPlane.close(); // SIGKILL
        } else {
          controlPlane.stop(Duration.ofSeconds(30)); // SIGTERM
        }
        Thread.sleep(config.controlPlaneDowntime().toMillis()); // down while the cluster keeps changing
        startControlPlane();
        awaitWatching(null);
      }
      case API_SERVER_RESTART -> {
        Map<String, Long> listsBefore = informerLists();
        // the API server leaves its address; writes go on through "another replica" nobody watches
        moveApiServer(0);
        Thread.sleep(config.apiOutage().toMillis());
        moveApiServer(apiPort);
        awaitWatching(listsBefore);
      }
      default -> throw new IllegalArgumentException(kind.name());
    }
    double outage = (System.nanoTime() - t0) / 1e9;
    injected.add(new Injected(minute(), kind, outage));
    log("fault %s: %.1f s until the control plane watched the API again", label(kind), outage);
  }

  /** Moves the API server (with its state) to {@code port}; the writer waits meanwhile, as for any write. */
  private void moveApiServer(int port) throws InterruptedException {
    pauseWrites();
    try {
      api = api.moveTo(port);
      switchClient();
    } finally {
      resumeWrites();
    }
  }

  /**
   * Waits until every informer of the control plane (and the harness's witness) watches again, and, given the
   * list counts from before an API server restart, has relisted since: the end of the fault's outage.
   */
  private void awaitWatching(Map<String, Long> listsBefore) throws Exception {
    long deadline = System.nanoTime() + STARTUP_DEADLINE.toNanos();
    while (true) {
      JsonNode informers = adminJson("/debug/state").path("watchers").path("informers");
      boolean ready = informers.size() > 0 && witness.isWatching();
      for (var kind = informers.fields(); kind.hasNext(); ) {
        var entry = kind.next();
        boolean relisted = listsBefore == null
            || entry.getValue().path("lists").asLong() > listsBefore.getOrDefault(entry.getKey(), 0L);
        ready &= entry.getValue().path("watching").asBoolean() && relisted;
      }
      if (ready) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the control plane's informers did not watch again: " + informers);
      }
      Thread.sleep(100); // polling the admin endpoint until the deadline
    }
  }

  private Map<String, Long> informerLists() throws Exception {
    Map<String, Long> lists = new HashMap<>();
    adminJson("/debug/state").path("watchers").path("informers").fields()
        .forEachRemaining(e -> lists.put(e.getKey(), e.getValue().path("lists").asLong()));
    return lists;
  }

  private JsonNode adminJson(String path) throws Exception {
    try {
      // /debug/... is served on the debug port (loopback) only; the admin port has probes and metrics
      return JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + debugPort + path))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body());
    } catch (IOException e) {
      return JSON.createObjectNode(); // not answering yet
    }
  }

  private void switchClient() {
    KubernetesClient old = client;
    client = FastMockKubernetes.bulkClient(api.url());
    old.close();
  }

  // ---- the writer

  private void writeLoop() {
    try {
      while (writing) {
        double gap = -Math.log(1 - random.nextDouble()) / config.changesPerSecond();
        Thread.sleep((long) (gap * 1000));
        writerTurn.acquire();
        try {
          if (writing) {
            writeOne();
          }
        } finally {
          writerTurn.release();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log("writer failed: %s", e);
      throw e;
    }
  }

  private void writeOne() throws InterruptedException {
    int dice = random.nextInt(100);
    if (dice < 60) {
      boolean add = churnPods.size() < config.churnPods() / 2
          || (churnPods.size() < config.churnPods() * 3 / 2 && random.nextBoolean());
      if (add) {
        Workload.ChurnPod pod = workload.nextChurnPod();
        retrying(() -> createIgnoringConflict(pod.pod()));
        churnPods.put(pod.name(), pod);
      } else {
        Workload.ChurnPod pod = anyChurnPod();
        retrying(() -> client.pods().inNamespace(pod.namespace()).withName(pod.name()).delete());
        churnPods.remove(pod.name());
      }
    } else if (dice < 70) {
      if (churnPods.isEmpty()) {
        return;
      }
      Workload.ChurnPod pod = anyChurnPod();
      Workload.ChurnPod moved = workload.movedTo(pod, (pod.node() + 1 + random.nextInt(scale.nodes() - 1))
          % scale.nodes());
      retrying(() -> client.pods().inNamespace(pod.namespace()).withName(pod.name()).delete());
      retrying(() -> createIgnoringConflict(moved.pod()));
      churnPods.put(moved.name(), moved);
    } else if (dice < 90) {
      int service = random.nextInt(scale.services());
      int notReady = random.nextInt(3) - 1; // -1: all ready
      retrying(() -> update(workload.slice(service, notReady)));
    } else {
      int service = random.nextInt(scale.services());
      boolean extra = !servicesWithExtraPort.contains(service);
      retrying(() -> update(workload.service(service, extra)));
      if (extra) {
        servicesWithExtraPort.add(service);
      } else {
        servicesWithExtraPort.remove(service);
      }
    }
    writes.incrementAndGet();
  }

  private Workload.ChurnPod anyChurnPod() {
    int index = random.nextInt(churnPods.size());
    return churnPods.values().stream().skip(index).findFirst().orElseThrow();
  }

  private Object createIgnoringConflict(HasMetadata object) {
    try {
      return client.resource(object).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return object; // an earlier attempt got through before its answer was lost
      }
      throw e;
    }
  }

  private Object update(HasMetadata object) {
    HasMetadata current = client.resource(object).get();
    object.getMetadata().setResourceVersion(current.getMetadata().getResourceVersion());
    return client.resource(object).update();
  }

  /** Retries a write while the API server is unreachable or moving (as a controller would). */
  private void retrying(Supplier<Object> write) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (true) {
      try {
        write.get();
        return;
      } catch (KubernetesClientException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        writeRetries.incrementAndGet();
        Thread.sleep(200);
      }
    }
  }

  private void pauseWrites() throws InterruptedException {
    writerTurn.acquire();
  }

  private void resumeWrites() {
    writerTurn.release();
  }

  // ---- checkpoints

  private void checkpoint(String reason, boolean pause) throws Exception {
    if (pause) {
      pauseWrites();
    }
    try {
      long t0 = System.nanoTime();
      List<Set<String>> listeners = new ArrayList<>();
      List<Set<String>> clusters = new ArrayList<>();
      for (int n = 0; n < scale.nodes(); n++) {
        listeners.add(expectedListeners(n));
        clusters.add(expectedServiceClusters(n));
      }
      List<String> differences = new ArrayList<>();
      int notConverged = awaitModel(envoys, listeners, clusters, differences);
      double convergeSeconds = (System.nanoTime() - t0) / 1e9;
      if (notConverged > 0) {
        differences.addAll(apiVersusModel());
      }
      int[] compared = new int[1];
      int differing = compareWithReference(listeners, clusters, differences, compared);
      Checkpoint checkpoint = new Checkpoint(minute(), reason, convergeSeconds, notConverged, differing,
          compared[0], List.copyOf(differences.subList(0, Math.min(20, differences.size()))));
      checkpoints.add(checkpoint);
      log("checkpoint (%s): converged in %.1f s; %d nodes not converged, %d of %d resources differ from the "
          + "reference%s", reason, convergeSeconds, notConverged, differing, compared[0],
          differences.isEmpty() ? "" : ": " + differences.subList(0, Math.min(5, differences.size())));
    } finally {
      if (pause) {
        resumeWrites();
      }
    }
  }

  /**
   * Where the API's churn pods, the model's and the witness informer's disagree: API vs model is a harness
   * problem; API vs witness means the API's watch stream lost an event (a fabric8 mock artifact the control plane
   * cannot see past either); neither means the control plane lost it.
   */
  private List<String> apiVersusModel() {
    Map<String, String> inApi = churnPodNodes(client.pods().inAnyNamespace().list().getItems());
    Map<String, String> inModel = new TreeMap<>();
    churnPods.values().forEach(pod -> inModel.put(pod.name(), Workload.nodeName(pod.node())));
    Map<String, String> inWitness = churnPodNodes(witness.getStore().list());
    List<String> differences = new ArrayList<>();
    describe("the model", inApi, inModel, differences);
    describe("the witness informer", inApi, inWitness, differences);
    if (differences.isEmpty()) {
      differences.add("API, model and witness informer agree on every churn pod: the control plane lost it");
    }
    return differences;
  }

  private static Map<String, String> churnPodNodes(List<Pod> pods) {
    Map<String, String> nodes = new TreeMap<>();
    for (Pod pod : pods) {
      if (pod.getMetadata().getName().startsWith("churn-")) {
        nodes.put(pod.getMetadata().getName(), pod.getSpec().getNodeName());
      }
    }
    return nodes;
  }

  private static void describe(String observer, Map<String, String> inApi, Map<String, String> seen,
      List<String> differences) {
    Set<String> names = new TreeSet<>(inApi.keySet());
    names.addAll(seen.keySet());
    for (String name : names) {
      if (!Objects.equals(inApi.get(name), seen.get(name))) {
        differences.add("API has " + name + " on " + inApi.get(name) + ", " + observer + " on " + seen.get(name));
      }
    }
  }

  private Set<String> expectedListeners(int node) {
    Set<String> names = new TreeSet<>();
    expectServiceLayer(node, names, new TreeSet<>());
    for (Workload.ChurnPod pod : churnPods.values()) {
      if (pod.node() == node) {
        names.add(pod.listener());
      }
    }
    names.addAll(workload.podListenersOf(node));
    return names;
  }

  private Set<String> expectedServiceClusters(int node) {
    Set<String> names = new TreeSet<>();
    expectServiceLayer(node, new TreeSet<>(), names);
    return names;
  }

  /** The service layer of every port the node's pods (seeded and churned) call, as the model says now. */
  private void expectServiceLayer(int node, Set<String> listeners, Set<String> clusters) {
    Set<Integer> called = new TreeSet<>(workload.servicesCalledFrom(node));
    for (Workload.ChurnPod pod : churnPods.values()) {
      if (pod.node() == node) {
        for (int upstream : workload.upstreamsOf(pod.app())) {
          called.add(upstream);
        }
      }
    }
    for (int service : called) {
      for (int port : Workload.PORTS) {
        workload.addServiceLayer(service, port, listeners, clusters);
      }
      if (servicesWithExtraPort.contains(service)) {
        workload.addServiceLayer(service, Workload.EXTRA_PORT, listeners, clusters);
      }
    }
  }

  /** Waits until every client holds the model's names; returns how many did not, describing them. */
  private int awaitModel(List<SimulatedEnvoy> clients, List<Set<String>> listeners, List<Set<String>> clusters,
      List<String> differences) throws InterruptedException {
    List<CompletableFuture<Long>> converged = new ArrayList<>();
    for (int n = 0; n < clients.size(); n++) {
      Set<String> l = listeners.get(n);
      Set<String> c = clusters.get(n);
      converged.add(clients.get(n).when(e -> BenchClients.holdsExactly(e, l, c)));
    }
    long deadline = System.nanoTime() + config.convergeDeadline().toNanos();
    int missing = 0;
    for (int n = 0; n < converged.size(); n++) {
      try {
        converged.get(n).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        missing++;
        converged.get(n).cancel(false);
        differences.add(Workload.nodeName(n) + ": " + BenchClients.differenceFrom(clients.get(n), listeners.get(n),
            clusters.get(n)));
      } catch (ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }
    clients.forEach(SimulatedEnvoy::forgetWaiters);
    return missing;
  }

  /**
   * Starts a fresh control plane on the same API, connects a fresh client per node (same protocol), and compares
   * what each soak client holds with what the fresh one got: same names, same versions. Returns the number of
   * differing resources.
   */
  private int compareWithReference(List<Set<String>> listeners, List<Set<String>> clusters, List<String> differences,
      int[] compared) throws Exception {
    ServerProcess reference = startProcess("reference", 0, 0, 0);
    List<SimulatedEnvoy> fresh = new ArrayList<>();
    ManagedChannel channel = null;
    try {
      int port = Integer.parseInt(reference.awaitLog(XDS_READY, STARTUP_DEADLINE));
      channel = SimulatedEnvoy.channel(port, clientPool);
      for (int n = 0; n < scale.nodes(); n++) {
        fresh.add(BenchClients.connect(channel, "reference-envoy-" + n, Workload.nodeName(n), !config.sotw(n), true,
            new SimulatedEnvoy.Stats()));
      }
      List<String> referenceDifferences = new ArrayList<>();
      if (awaitModel(fresh, listeners, clusters, referenceDifferences) > 0) {
        // the reference disagrees with the model too: a harness problem (or the API lost a write)
        referenceDifferences.forEach(d -> differences.add("reference " + d));
      }
      // give in-flight pushes (EDS after CDS, etc.) a moment to land
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      int differing;
      List<String> found = new ArrayList<>();
      do {
        found.clear();
        differing = 0;
        int total = 0;
        for (int n = 0; n < scale.nodes(); n++) {
          Map<String, Map<String, String>> mine = envoys.get(n).versions();
          Map<String, Map<String, String>> theirs = fresh.get(n).versions();
          for (String type : SimulatedEnvoy.TYPES) {
            Map<String, String> a = mine.get(type);
            Map<String, String> b = theirs.get(type);
            Set<String> names = new TreeSet<>(a.keySet());
            names.addAll(b.keySet());
            total += names.size();
            for (String name : names) {
              if (!Objects.equals(a.get(name), b.get(name))) {
                differing++;
                found.add(String.format("%s %s %s: soak=%s reference=%s", Workload.nodeName(n), shortType(type),
                    name, a.get(name), b.get(name)));
              }
            }
          }
        }
        compared[0] = total;
        if (differing > 0) {
          Thread.sleep(200); // polling until equal or the deadline
        }
      } while (differing > 0 && System.nanoTime() < deadline);
      differences.addAll(found);
      return differing;
    } finally {
      fresh.forEach(SimulatedEnvoy::close);
      if (channel != null) {
        channel.shutdownNow();
      }
      reference.stop(Duration.ofSeconds(30));
      reference.close();
    }
  }

  // ---- samples, metrics, report

  private void sample() throws Exception {
    if (controlPlane == null || !controlPlane.isAlive()) {
      return;
    }
    long retained = controlPlane.retainedAfterFullGcMb(out.resolve(controlPlane.name() + "-histogram.txt"));
    if (retained < 0) {
      log("sample: no full GC showed up in control plane #%d's GC log within a minute; sample skipped", controlPlanes);
      return;
    }
    int reconnects = envoys.stream().mapToInt(SimulatedEnvoy::reconnects).sum();
    int streaming = (int) envoys.stream().filter(SimulatedEnvoy::streaming).count();
    int pods;
    writerTurn.acquire();
    try {
      pods = churnPods.size();
    } finally {
      writerTurn.release();
    }
    Sample sample = new Sample(minute(), controlPlanes, retained, controlPlane.cpuSeconds(), writes.get(),
        reconnects, streaming, pods);
    samples.add(sample);
    log("sample: control plane #%d retains %d MB, CPU %.0f s, %d writes, %d/%d clients streaming, %d reconnects",
        controlPlanes, retained, sample.cpuSeconds(), sample.writes(), streaming, envoys.size(), reconnects);
  }

  /** The control plane's own counters at the end (sums over labels). */
  private Map<String, Double> metrics() throws Exception {
    HttpResponse<String> response = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    Map<String, Double> sums = new LinkedHashMap<>();
    for (String name : List.of("nodemesh_xds_nacks_total", "nodemesh_xds_bad_requests_total",
        "nodemesh_xds_limit_rejections_total", "nodemesh_xds_quarantines_total", "nodemesh_xds_connected_clients",
        "nodemesh_xds_pushes_total")) {
      sums.put(name, 0.0);
    }
    for (String line : response.body().split("\n")) {
      if (line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      String name = line.substring(0, brace >= 0 ? brace : Math.max(0, space));
      if (sums.containsKey(name) && space > 0) {
        sums.merge(name, Double.parseDouble(line.substring(space + 1)), Double::sum);
      }
    }
    return sums;
  }

  private String report(Result result, Workload.SeedTimes seed) {
    StringBuilder r = new StringBuilder("# nodemesh soak run\n\n");
    r.append(String.format(Locale.ROOT, "%s; %d cores%n%n", Instant.now(),
        Runtime.getRuntime().availableProcessors()));
    r.append("| setting | value |\n|---|---|\n").append(config.describe());
    r.append(String.format(Locale.ROOT, "| seeded objects | %,d |%n", seed.objects()));
    r.append("\n## Outcome\n\n| figure | value |\n|---|---|\n");
    r.append(String.format(Locale.ROOT, "| API writes | %,d (%,d retried after a failed API call) |%n",
        result.writes(), result.writeRetries()));
    r.append(String.format(Locale.ROOT, "| checkpoints | %d |%n", result.checkpoints().size()));
    r.append(String.format(Locale.ROOT, "| lost updates (all checkpoints) | %d |%n", result.lostUpdates()));
    r.append(String.format(Locale.ROOT, "| client stream reopen attempts | %,d |%n", result.reconnects()));
    r.append(String.format(Locale.ROOT, "| client decode errors | %d |%n", stats.decodeErrors.sum()));
    result.metrics().forEach((name, value) ->
        r.append(String.format(Locale.ROOT, "| %s (last control plane) | %.0f |%n", name, value)));
    for (Map.Entry<Integer, double[]> trend : heapTrends(result.samples()).entrySet()) {
      double[] t = trend.getValue();
      r.append(String.format(Locale.ROOT, "| heap trend, control plane #%d | %+.1f MB/h over %.0f min (%d samples, "
          + "%.0f-%.0f MB); %+.1f MB/h over the later half |%n", trend.getKey(), t[0], t[1], (int) t[2], t[3], t[4],
          t[5]));
    }
    r.append("\n## Faults\n\n| minute | fault | until the control plane watched the API again |\n|---|---|---|\n");
    for (Injected fault : result.faults()) {
      r.append(String.format(Locale.ROOT, "| %.1f | %s | %.1f s |%n", fault.minute(), label(fault.kind()),
          fault.outageSeconds()));
    }
    r.append("\n## Checkpoints\n\n| minute | why | converged in | nodes not converged | resources compared "
        + "with a fresh control plane | differing |\n|---|---|---|---|---|---|\n");
    for (Checkpoint c : result.checkpoints()) {
      r.append(String.format(Locale.ROOT, "| %.1f | %s | %.1f s | %d | %,d | %d |%n", c.minute(), c.reason(),
          c.convergeSeconds(), c.nodesNotConverged(), c.resourcesCompared(), c.resourcesDiffering()));
    }
    List<String> differences = result.checkpoints().stream().flatMap(c -> c.differences().stream()).toList();
    if (!differences.isEmpty()) {
      r.append("\nDifferences (first of each checkpoint):\n\n```\n");
      differences.forEach(d -> r.append(d).append('\n'));
      r.append("```\n");
    }
    r.append("\n## Heap (retained after a forced full GC)\n\n| minute | control plane | retained MB | CPU s | writes "
        + "| clients streaming | reconnects | churn pods |\n|---|---|---|---|---|---|---|---|\n");
    for (Sample s : result.samples()) {
      r.append(String.format(Locale.ROOT, "| %.1f | #%d | %d | %.0f | %,d | %d | %d | %d |%n", s.minute(),
          s.controlPlane(), s.retainedMb(), s.cpuSeconds(), s.writes(), s.streaming(), s.reconnects(),
          s.churnPods()));
    }
    return r.toString();
  }

  /**
   * Per control plane process: {slope MB/h, minutes covered, samples, min MB, max MB, slope MB/h of the later half}
   * over its samples after its first two minutes (start-up and JIT allocations settle). The later half tells a
   * leak (still rising) from a live set that grew with the churn pool and the bounded histories and then levelled
   * off. Only processes with at least six such samples.
   */
  static Map<Integer, double[]> heapTrends(List<Sample> samples) {
    Map<Integer, List<Sample>> byProcess = new LinkedHashMap<>();
    Map<Integer, Double> firstMinute = new HashMap<>();
    for (Sample s : samples) {
      firstMinute.putIfAbsent(s.controlPlane(), s.minute());
      if (s.minute() - firstMinute.get(s.controlPlane()) >= 2 && s.retainedMb() >= 0) {
        byProcess.computeIfAbsent(s.controlPlane(), k -> new ArrayList<>()).add(s);
      }
    }
    Map<Integer, double[]> trends = new LinkedHashMap<>();
    byProcess.forEach((process, points) -> {
      if (points.size() < 6) {
        return;
      }
      double span = points.get(points.size() - 1).minute() - points.get(0).minute();
      trends.put(process, new double[] {slopeMbPerHour(points), span, points.size(),
          points.stream().mapToLong(Sample::retainedMb).min().orElse(0),
          points.stream().mapToLong(Sample::retainedMb).max().orElse(0),
          slopeMbPerHour(points.subList(points.size() / 2, points.size()))});
    });
    return trends;
  }

  /** Least-squares slope of retained heap over time. */
  private static double slopeMbPerHour(List<Sample> points) {
    double mx = points.stream().mapToDouble(Sample::minute).average().orElse(0);
    double my = points.stream().mapToDouble(Sample::retainedMb).average().orElse(0);
    double sxy = 0;
    double sxx = 0;
    for (Sample p : points) {
      sxy += (p.minute() - mx) * (p.retainedMb() - my);
      sxx += (p.minute() - mx) * (p.minute() - mx);
    }
    return sxx == 0 ? 0 : sxy / sxx * 60;
  }

  // ---- helpers

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private double minute() {
    return (System.nanoTime() - start) / 60e9;
  }

  private static String label(FaultKind kind) {
    return kind.name().toLowerCase(Locale.ROOT).replace('_', ' ');
  }

  private static String shortType(String typeUrl) {
    return typeUrl.substring(typeUrl.lastIndexOf('.') + 1);
  }

  private static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[soak %tT] %s%n", System.currentTimeMillis(),
        String.format(Locale.ROOT, format, args));
  }
}
