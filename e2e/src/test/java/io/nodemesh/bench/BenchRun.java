package io.nodemesh.bench;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.nodemesh.e2e.ControlPlaneProcess;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * One control plane through the whole workload: start-up against the seeded API, cold start of every node's
 * Envoy at once, pod churn, endpoint flaps, service changes. Every phase is bounded by deadlines; what does not
 * converge in time is counted as a timeout and enters the percentiles at the deadline.
 */
final class BenchRun {

  /** What one run measures: nodemesh, or java-control-plane in one of {@link BaselineControlPlane}'s flavours. */
  enum Target {
    NODEMESH("nodemesh", null),
    /** The reference that the report's ratios are quoted against. */
    TUNED("baseline-tuned", BaselineControlPlane.Flavor.TUNED),
    NAIVE("baseline-naive", BaselineControlPlane.Flavor.NAIVE),
    /** nodemesh, run only to warm the harness up; nothing recorded. */
    WARMUP("warmup", null);

    private static final Pattern NODEMESH_READY =
        Pattern.compile("xDS \\(ADS, SotW and Delta\\) listening on port (\\d+)");
    private static final Pattern BASELINE_READY = Pattern.compile("baseline xDS listening on port (\\d+)");

    final String label;
    /** The baseline flavour; null for nodemesh. */
    final BaselineControlPlane.Flavor flavor;

    Target(String label, BaselineControlPlane.Flavor flavor) {
      this.label = label;
      this.flavor = flavor;
    }

    Pattern ready() {
      return flavor == null ? NODEMESH_READY : BASELINE_READY;
    }

    String xmx(BenchConfig config) {
      return flavor == null ? config.nodemeshXmx() : config.baselineXmx();
    }
  }

  private static final double MS = 1e6;

  private final BenchConfig config;
  private final Workload workload;
  private final KubernetesClient client;
  private final String kubernetesUrl;
  private final Target target;
  private final Results results;
  private final Path out;
  private final List<Set<String>> expectedListeners = new ArrayList<>();
  private final List<Set<String>> expectedClusters = new ArrayList<>();
  private final SimulatedEnvoy.Stats stats = new SimulatedEnvoy.Stats();
  private final List<SimulatedEnvoy> envoys = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private ExecutorService clientPool;
  private ServerProcess process;
  /** Phase bookkeeping: CPU, bytes, harness CPU and load at the phase start. */
  private double phaseCpu;
  private long phaseBytes;
  private double phaseHarnessCpu;
  private long phaseStart;
  /** Wall-clock windows of the measured phases, to cut the JFR profile per phase. */
  private final List<Phase> phases = new ArrayList<>();
  String jfrSummary = "";

  private record Phase(String name, java.time.Instant start, java.time.Instant end) {}

  private void phaseDone(String name) {
    phases.add(new Phase(name, phaseStartWall, java.time.Instant.now()));
  }

  private java.time.Instant phaseStartWall = java.time.Instant.now();

  BenchRun(BenchConfig config, Workload workload, KubernetesClient client, String kubernetesUrl, Target target) {
    this.config = config;
    this.workload = workload;
    this.client = client;
    this.kubernetesUrl = kubernetesUrl;
    this.target = target;
    this.results = new Results(target.label);
    this.out = config.output();
    for (int n = 0; n < config.nodes(); n++) {
      expectedListeners.add(workload.expectedListeners(n));
      expectedClusters.add(workload.expectedServiceClusters(n));
    }
  }

  Results execute() throws Exception {
    try {
      startUp();
      coldStart();
      reconnectStorm();
      if (config.phases().contains("churn")) {
        podChurn();
      }
      if (config.phases().contains("flaps")) {
        endpointFlaps();
      }
      if (config.phases().contains("services")) {
        serviceChanges(false);
        serviceChanges(true);
      }
      finish();
      return results;
    } finally {
      tearDown();
    }
  }

  /** Closes the clients and kills the control plane if it still runs ({@link #finish} stops it gracefully). */
  private void tearDown() {
    envoys.forEach(SimulatedEnvoy::close);
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    if (clientPool != null) {
      clientPool.shutdownNow();
    }
    if (process != null) {
      process.close();
    }
  }

  // ---- phases

  private void startUp() throws Exception {
    List<String> args = new ArrayList<>();
    if (target.flavor == null) {
      args.addAll(List.of("-jar", ControlPlaneProcess.jar().toAbsolutePath().toString(), "--admin-port=0",
          "--debug-port=0", "--xds-port=0"));
      args.addAll(ControlPlaneProcess.HARNESS_FLAGS);
      args.addAll(config.nodemeshFlags());
    } else {
      String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
      args.addAll(List.of("-cp", classpath, BaselineControlPlane.class.getName(),
          target.flavor.name().toLowerCase(Locale.ROOT), "--xds-port=0"));
    }
    // every target translates with the chart's production setting: the service CIDR of the workload's ClusterIPs
    args.add("--service-cidrs=" + Workload.SERVICE_CIDR);
    String xmx = target.xmx(config);
    log("starting %s (-Xmx%s)", target.label, xmx);
    double load = ServerProcess.loadAverage();
    long start = System.nanoTime();
    process = ServerProcess.start(target.label, out, xmx, config.jfr(), config.jvmArgs(), args, kubernetesUrl);
    int port = Integer.parseInt(process.awaitLog(target.ready(), config.startupDeadline()));
    double seconds = (System.nanoTime() - start) / 1e9;
    results.put("startup", "start-up: process start to xDS serving (list all objects, first full translation)",
        seconds, "s", Double.NaN, "load " + fmt(load));
    results.put("startupCpu", "start-up CPU (control plane)", process.cpuSeconds(), "s");
    log("%s serving xDS on port %d after %.1f s", target.label, port, seconds);

    clientPool = Executors.newFixedThreadPool(4, daemon("bench-envoy"));
    for (int c = 0; c < config.channelCount(); c++) {
      channels.add(SimulatedEnvoy.channel(port, clientPool));
    }
  }

  /** Connects every node's Envoy at once; returns per node the ms until it held its full config (ACKed). */
  private List<Double> connectAll(List<CompletableFuture<Long>> synced) throws InterruptedException {
    long start = System.nanoTime();
    for (int n = 0; n < config.nodes(); n++) {
      envoys.add(BenchClients.connect(channels.get(n % channels.size()), "envoy-" + n, Workload.nodeName(n),
          config.delta(), config.decodeAll(), stats));
    }
    for (int n = 0; n < config.nodes(); n++) {
      Set<String> listeners = expectedListeners.get(n);
      Set<String> clusters = expectedClusters.get(n);
      synced.add(envoys.get(n).when(e -> BenchClients.synced(e, listeners, clusters)));
    }
    return awaitAll(synced, start, config.coldStartDeadline());
  }

  /**
   * Only connects and syncs every Envoy once, recording nothing: run against a throwaway control plane before
   * the measured runs, so the harness's own JIT warm-up (protobuf decoding, gRPC receive paths: ~10 s of CPU on
   * 2 cores) does not land in whichever target happens to run first.
   */
  void warmUpHarness() throws Exception {
    try {
      startUp();
      List<CompletableFuture<Long>> synced = new ArrayList<>();
      List<Double> perNode = connectAll(synced);
      log("harness warm-up: %d Envoys synced in %.0f ms (not measured)", perNode.size(), Results.max(perNode));
      timeouts(synced);
      process.stop(Duration.ofSeconds(30));
    } finally {
      tearDown();
    }
  }

  /** Every Envoy disconnects and all reconnect at once to the (now warm) control plane. */
  private void reconnectStorm() throws Exception {
    envoys.forEach(SimulatedEnvoy::close);
    envoys.clear();
    Thread.sleep(2000);
    beginPhase();
    double load = ServerProcess.loadAverage();
    List<CompletableFuture<Long>> synced = new ArrayList<>();
    List<Double> perNode = connectAll(synced);
    int timeouts = timeouts(synced);
    phaseDone("reconnect of all Envoys");
    double cpu = process.cpuSeconds() - phaseCpu;
    log("reconnect: %d nodes synced in %.0f ms, control plane CPU %.1f s", perNode.size(), Results.max(perNode), cpu);
    results.put("reconnect", "all " + config.nodes() + " Envoys reconnect at once to the running control plane",
        Results.max(perNode), "ms", 10_000, "load " + fmt(load) + timeoutNote(timeouts));
    results.put("reconnectCpu", "reconnect CPU (control plane)", cpu, "s");
    Thread.sleep(1000);
  }

  private void coldStart() throws Exception {
    beginPhase();
    double load = ServerProcess.loadAverage();
    List<CompletableFuture<Long>> synced = new ArrayList<>();
    List<Double> perNode = connectAll(synced);
    double all = Results.max(perNode);
    int timeouts = timeouts(synced);
    double cpu = process.cpuSeconds() - phaseCpu;
    double harness = ServerProcess.ownCpuSeconds() - phaseHarnessCpu;
    long bytes = stats.bytes.sum() - phaseBytes;
    log("cold start: %d nodes synced in %.0f ms (%d not synced), %.1f MB pushed", config.nodes() - timeouts, all,
        timeouts, bytes / 1e6);
    results.put("coldStart", "cold start: control plane just started, all " + config.nodes()
        + " Envoys connect at once, until all SYNCED",
        all, "ms", 10_000, "load " + fmt(load) + timeoutNote(timeouts));
    results.put("coldStartP50", "cold start: per node p50", Results.percentile(perNode, 50), "ms");
    results.put("coldStartP99", "cold start: per node p99", Results.percentile(perNode, 99), "ms");
    results.put("coldStartCpu", "cold start CPU (control plane)", cpu, "s");
    results.put("coldStartHarnessCpu", "cold start CPU (harness: simulated Envoys decoding)", harness, "s");
    results.put("coldStartBytes", "cold start: bytes pushed (all nodes)", bytes / 1e6, "MB");
    phaseDone("cold start");

    Thread.sleep(2000); // let the last ACKs land before reading what each node holds
    long[] sums = new long[8];
    long maxBytes = 0;
    for (SimulatedEnvoy envoy : envoys) {
      long[] counts = envoy.countsAndBytes();
      long nodeBytes = 0;
      for (int i = 0; i < 8; i++) {
        sums[i] += counts[i];
      }
      for (int i = 4; i < 8; i++) {
        nodeBytes += counts[i];
      }
      maxBytes = Math.max(maxBytes, nodeBytes);
    }
    double nodes = config.nodes();
    results.put("perNodeResources", "per node: resources (CDS/EDS/LDS/RDS)",
        (sums[0] + sums[1] + sums[2] + sums[3]) / nodes, "",
        Double.NaN, String.format(Locale.ROOT, "%.0f/%.0f/%.0f/%.0f", sums[0] / nodes, sums[1] / nodes,
            sums[2] / nodes, sums[3] / nodes));
    results.put("perNodeBytes", "per node: bytes held (avg; CDS/EDS/LDS/RDS in KB)",
        (sums[4] + sums[5] + sums[6] + sums[7]) / nodes / 1e3, "KB", Double.NaN,
        String.format(Locale.ROOT, "%.0f/%.0f/%.0f/%.0f; max node %.0f KB", sums[4] / nodes / 1e3,
            sums[5] / nodes / 1e3, sums[6] / nodes / 1e3, sums[7] / nodes / 1e3, maxBytes / 1e3));
    results.put("largestResponse", "largest single response", stats.largestResponse.get() / 1e3, "KB");
    double cpuBeforeGc = process.cpuSeconds();
    long retained = process.retainedAfterFullGcMb(out.resolve(target.label + "-histogram-coldstart.txt"));
    phaseCpu += process.cpuSeconds() - cpuBeforeGc; // the forced GC is ours, not the control plane's
    results.put("heapAfterColdStart", "heap retained after cold start (forced full GC)", retained, "MB", 1024, "");
    log("heap retained after cold start: %d MB", retained);
  }

  /**
   * Pod churn at the configured rate. The measured window is preceded by an unmeasured warm-up of the same
   * churn ({@code bench.churnWarmupSeconds}): the first pod events run code paths (watch decoding, one-node
   * translation, single-stream pushes) that the cold start did not, and their JIT compilation put the first
   * half second's events at 300-500 ms, which says nothing about a running control plane.
   */
  private void podChurn() throws Exception {
    if (config.churnWarmup().toSeconds() > 0) {
      podChurn(config.churnWarmup(), false);
    }
    podChurn(config.churnDuration(), true);
  }

  private void podChurn(Duration duration, boolean measured) throws Exception {
    int rate = config.churnPerSecond();
    int ticks = (int) (rate * duration.toSeconds());
    if (ticks == 0) {
      return;
    }
    log("pod churn%s: %d changes/s for %d s", measured ? "" : " (warm-up, not measured)", rate, duration.toSeconds());
    beginPhase();
    double load = ServerProcess.loadAverage();
    ConcurrentLinkedQueue<Double> addLatencies = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Double> deleteLatencies = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Double> writeLatencies = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<double[]> slowest = new ConcurrentLinkedQueue<>(); // {offset ms in phase, latency ms}
    long churnStart = System.nanoTime();
    ConcurrentLinkedQueue<Workload.ChurnPod> live = new ConcurrentLinkedQueue<>();
    List<Workload.ChurnPod> created = Collections.synchronizedList(new ArrayList<>());
    Set<String> deleted = java.util.concurrent.ConcurrentHashMap.newKeySet();
    List<CompletableFuture<Long>> adds = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<Long>> deletes = Collections.synchronizedList(new ArrayList<>());
    List<EndpointChange> endpointChanges = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger failures = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(ticks);
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(daemon("bench-ticker"));
    ExecutorService writers = Executors.newFixedThreadPool(8, daemon("bench-writer"));
    try {
      java.util.function.IntConsumer submitChurn = i -> writers.execute(() -> {
        try {
          Workload.ChurnPod victim = i % 2 == 1 ? live.poll() : null;
          if (victim != null) {
            SimulatedEnvoy envoy = envoys.get(victim.node());
            String listener = victim.listener();
            CompletableFuture<Long> gone = envoy.when(e -> !e.holds(SimulatedEnvoy.LDS, listener));
            long t0 = System.nanoTime();
            client.pods().inNamespace(victim.namespace()).withName(victim.name()).delete();
            deleted.add(victim.name());
            deletes.add(gone.whenComplete((t, err) -> {
              if (t != null) {
                deleteLatencies.add((t - t0) / MS);
              }
            }));
            endpointChanges.add(writeEndpoints(victim.app(), List.of(victim), false));
          } else {
            Workload.ChurnPod pod = workload.nextChurnPod();
            SimulatedEnvoy envoy = envoys.get(pod.node());
            String listener = pod.listener();
            CompletableFuture<Long> there = envoy.when(e -> e.holds(SimulatedEnvoy.LDS, listener));
            long t0 = System.nanoTime();
            client.resource(pod.pod()).create();
            writeLatencies.add((System.nanoTime() - t0) / MS);
            created.add(pod);
            adds.add(there.whenComplete((t, err) -> {
              if (t != null) {
                addLatencies.add((t - t0) / MS);
                slowest.add(new double[] {(t0 - churnStart) / MS, (t - t0) / MS});
              }
            }));
            EndpointChange listed = writeEndpoints(pod.app(), List.of(pod), true);
            endpointChanges.add(listed);
            // a victim only once it is up everywhere: deleted earlier, its endpoint's add and removal could
            // reach the nodes as one update that changes nothing, and the add would wait forever
            List<CompletableFuture<Long>> up = new ArrayList<>(listed.arrivals());
            up.add(there);
            CompletableFuture.allOf(up.toArray(CompletableFuture[]::new)).thenRun(() -> live.add(pod));
          }
        } catch (RuntimeException e) {
          failures.incrementAndGet();
          log("churn write failed: %s", e);
        } finally {
          done.countDown();
        }
      });
      // Poisson arrivals (independent pod events), not a metronome: a fixed 10 ms beat would never let the
      // debouncer see a quiet period, which no real cluster does either
      java.util.Random arrivals = new java.util.Random(11);
      ticker.execute(() -> {
        long next = System.nanoTime();
        for (int i = 0; i < ticks; i++) {
          next += (long) (-Math.log(1 - arrivals.nextDouble()) * 1e9 / rate);
          long wait = next - System.nanoTime();
          if (wait > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(wait);
          }
          if (Thread.currentThread().isInterrupted()) {
            return;
          }
          submitChurn.accept(i);
        }
      });

      if (!done.await(duration.toSeconds() + 120, TimeUnit.SECONDS)) {
        log("churn: the API writes fell behind; %d of %d done", ticks - done.getCount(), ticks);
      }
    } finally {
      ticker.shutdownNow();
      writers.shutdown();
      writers.awaitTermination(60, TimeUnit.SECONDS);
    }
    if (measured) {
      recordChurn(rate, load, addLatencies, deleteLatencies, writeLatencies, slowest, adds, deletes, failures);
      recordChurnEndpoints(snapshot(endpointChanges));
    } else {
      awaitAll(snapshot(adds), 0, config.eventDeadline());
      awaitAll(snapshot(deletes), 0, config.eventDeadline());
      for (EndpointChange change : snapshot(endpointChanges)) {
        awaitAll(change.arrivals(), 0, config.eventDeadline());
      }
    }

    // put the cluster back as it was, unmeasured: one slice write per service
    List<CompletableFuture<Long>> cleanup = new ArrayList<>();
    Map<Integer, List<Workload.ChurnPod>> leftOfApp = new TreeMap<>();
    for (Workload.ChurnPod pod : snapshot(created)) {
      if (deleted.add(pod.name())) {
        String listener = pod.listener();
        cleanup.add(envoys.get(pod.node()).when(e -> !e.holds(SimulatedEnvoy.LDS, listener)));
        client.pods().inNamespace(pod.namespace()).withName(pod.name()).delete();
        leftOfApp.computeIfAbsent(pod.app(), app -> new ArrayList<>()).add(pod);
      }
    }
    leftOfApp.forEach((app, pods) -> cleanup.addAll(writeEndpoints(app, pods, false).arrivals()));
    awaitAll(cleanup, 0, config.eventDeadline());
  }

  private void recordChurn(int rate, double load, ConcurrentLinkedQueue<Double> addLatencies,
      ConcurrentLinkedQueue<Double> deleteLatencies, ConcurrentLinkedQueue<Double> writeLatencies,
      ConcurrentLinkedQueue<double[]> slowest, List<CompletableFuture<Long>> adds,
      List<CompletableFuture<Long>> deletes, AtomicInteger failures) throws InterruptedException {
    double seconds = (System.nanoTime() - phaseStart) / 1e9;
    phaseDone("pod churn");
    List<Double> addTimes = new ArrayList<>(awaitAll(snapshot(adds), 0, config.eventDeadline()));
    awaitAll(snapshot(deletes), 0, config.eventDeadline());
    int addTimeouts = timeouts(snapshot(adds));
    int deleteTimeouts = timeouts(snapshot(deletes));
    double cpu = process.cpuSeconds() - phaseCpu;
    long bytes = stats.bytes.sum() - phaseBytes;
    double harness = ServerProcess.ownCpuSeconds() - phaseHarnessCpu;
    int events = adds.size() + deletes.size();
    List<Double> addSample = new ArrayList<>(addLatencies);
    padTimeouts(addSample, addTimeouts);
    List<Double> deleteSample = new ArrayList<>(deleteLatencies);
    padTimeouts(deleteSample, deleteTimeouts);
    StringBuilder slow = new StringBuilder();
    slowest.stream().sorted((a, b) -> Double.compare(b[1], a[1])).limit(15)
        .forEach(x -> slow.append(String.format(Locale.ROOT, " %.0fms@%.1fs", x[1], x[0] / 1000)));
    log("churn: slowest adds (latency@offset):%s", slow);
    log("churn: add p90 %.1f ms, p95 %.1f ms; API create call p50 %.1f ms p99 %.1f ms", Results.percentile(addSample, 90),
        Results.percentile(addSample, 95), Results.percentile(writeLatencies, 50), Results.percentile(writeLatencies, 99));
    log("churn: %d adds (p50 %.1f ms, p99 %.1f ms, %d timeouts), %d deletes, %d failed writes, %.1f CPU s in %.1f s",
        adds.size(), Results.percentile(addSample, 50), Results.percentile(addSample, 99), addTimeouts,
        deletes.size(), failures.get(), cpu, seconds);
    String loadNote = "load " + fmt(load) + "->" + fmt(ServerProcess.loadAverage());
    results.put("podAddP50", "pod add -> listener ACKed on its node, p50", Results.percentile(addSample, 50), "ms");
    results.put("podAddP99", "pod add -> listener ACKed on its node, p99 (" + rate + " pod changes/s)",
        Results.percentile(addSample, 99), "ms", 50, loadNote + timeoutNote(addTimeouts));
    results.put("podAddMax", "pod add -> ACK, max", Results.max(addSample), "ms");
    results.put("apiCreateP50", "(harness) mock API create call, p50 / p99", Results.percentile(writeLatencies, 50), "ms",
        Double.NaN, String.format(Locale.ROOT, "p99 %.1f ms", Results.percentile(writeLatencies, 99)));
    results.put("podDeleteP99", "pod delete -> listener removed on its node, p99",
        Results.percentile(deleteSample, 99), "ms", Double.NaN, timeoutNote(deleteTimeouts).replace("; ", ""));
    results.put("churnCpu", "churn: control plane CPU per second of churn", cpu / seconds, "cores");
    results.put("churnBytes", "churn: bytes pushed per pod event", events == 0 ? Double.NaN : bytes / 1e3 / events,
        "KB");
    results.put("churnHarnessCpu", "churn: harness CPU (mock API + Envoys) per second", harness / seconds, "cores");
  }

  /** The churned pods' endpoint changes: from each slice write until every Envoy holding the service has it. */
  private void recordChurnEndpoints(List<EndpointChange> changes) throws InterruptedException {
    long end = System.nanoTime() + config.eventDeadline().toNanos();
    List<Double> perNode = new ArrayList<>();
    List<Double> toAll = new ArrayList<>();
    int timeouts = 0;
    for (EndpointChange change : changes) {
      if (change.arrivals().isEmpty()) {
        continue; // scoped workload: no node's seeded pods call this service
      }
      List<Double> times = awaitUntil(change.arrivals(), change.writeNanos(), end);
      int missed = timeouts(change.arrivals());
      timeouts += missed;
      perNode.addAll(times);
      padTimeouts(perNode, missed);
      toAll.add(missed > 0 ? config.eventDeadline().toMillis() : Results.max(times));
    }
    double nodes = (double) perNode.size() / Math.max(1, toAll.size());
    log("churn endpoints: %d slice writes, to every node holding them p50 %.1f ms p99 %.1f ms; per node p99 %.1f ms;"
        + " %d timeouts", toAll.size(), Results.percentile(toAll, 50), Results.percentile(toAll, 99),
        Results.percentile(perNode, 99), timeouts);
    results.put("churnEndpointAllP50", "churn: pod's endpoint change -> every node holding them, p50",
        Results.percentile(toAll, 50), "ms", Double.NaN, String.format(Locale.ROOT, "%.0f nodes", nodes));
    results.put("churnEndpointAllP99", "churn: pod's endpoint change -> every node holding them, p99",
        Results.percentile(toAll, 99), "ms", Double.NaN, timeoutNote(timeouts).replace("; ", ""));
    results.put("churnEndpointNodeP99", "churn: pod's endpoint change -> one node, p99",
        Results.percentile(perNode, 99), "ms");
  }

  private void endpointFlaps() throws Exception {
    if (config.flaps() == 0) {
      return;
    }
    log("endpoint flaps: %d on svc-0", config.flaps());
    beginPhase();
    double load = ServerProcess.loadAverage();
    List<Double> perNode = new ArrayList<>();
    List<Double> toAll = new ArrayList<>();
    int timeouts = 0;
    for (int flap = 0; flap < config.flaps(); flap++) {
      int notReady = flap % 2 == 0 ? 0 : -1;
      List<CompletableFuture<Long>> arrived = nextEndpointChange(0);
      long t0 = replace(workload.slice(0, notReady));
      List<Double> times = awaitAll(arrived, t0, config.eventDeadline());
      timeouts += timeouts(arrived);
      perNode.addAll(times);
      toAll.add(Results.max(times));
      Thread.sleep(300);
    }
    phaseDone("endpoint flaps");
    double cpu = process.cpuSeconds() - phaseCpu;
    long bytes = stats.bytes.sum() - phaseBytes;
    log("flaps: to all nodes p50 %.1f ms p99 %.1f ms; per node p99 %.1f ms; %d timeouts",
        Results.percentile(toAll, 50), Results.percentile(toAll, 99), Results.percentile(perNode, 99), timeouts);
    results.put("flapAllP50", "endpoint change -> all " + config.nodes() + " nodes, p50",
        Results.percentile(toAll, 50), "ms");
    results.put("flapAllP99", "endpoint change -> all " + config.nodes() + " nodes, p99",
        Results.percentile(toAll, 99), "ms", 500, "load " + fmt(load) + timeoutNote(timeouts));
    results.put("flapNodeP50", "endpoint change -> one node, p50", Results.percentile(perNode, 50), "ms");
    results.put("flapNodeP99", "endpoint change -> one node, p99", Results.percentile(perNode, 99), "ms");
    results.put("flapBytes", "endpoint change: bytes pushed per change (all nodes)",
        bytes / 1e3 / config.flaps(), "KB");
    results.put("flapCpu", "endpoint change: control plane CPU per change", cpu / config.flaps(), "s");
  }

  private void serviceChanges(boolean popular) throws Exception {
    int changes = popular ? config.popularServiceChanges() : config.serviceChanges();
    if (changes == 0) {
      return;
    }
    log("service changes: %d on %s", changes, popular ? "svc-0 (every pod calls it)" : "one-team services");
    beginPhase();
    double load = ServerProcess.loadAverage();
    List<Double> toAll = new ArrayList<>();
    List<Integer> affectedNodes = new ArrayList<>();
    int timeouts = 0;
    for (int change = 0; change < changes; change++) {
      int service = popular ? 0 : workload.teamService(change / 2);
      boolean addPort = change % 2 == 0;
      // what arrives on a node calling the service: the service layer of the new port (docs/TRANSLATOR.md),
      // and new listeners of its scoped pods, which list their scope's ports; an unscoped pod's listener
      // lists only the service prefixes, so it stays as it is
      Set<String> layerListeners = new TreeSet<>();
      Set<String> layerClusters = new TreeSet<>();
      workload.addServiceLayer(service, Workload.EXTRA_PORT, layerListeners, layerClusters);
      Predicate<SimulatedEnvoy> layerChanged = e ->
          layerListeners.stream().allMatch(listener -> e.holds(SimulatedEnvoy.LDS, listener) == addPort)
          && layerClusters.stream().allMatch(cluster -> e.holds(SimulatedEnvoy.CDS, cluster) == addPort);
      List<CompletableFuture<Long>> arrived = new ArrayList<>();
      for (int n = 0; n < config.nodes(); n++) {
        List<Integer> pods = workload.podsCalling(n, service);
        if (pods.isEmpty()) {
          continue;
        }
        SimulatedEnvoy envoy = envoys.get(n);
        if (!config.scoped()) {
          arrived.add(envoy.when(layerChanged));
          continue;
        }
        List<String> listeners = new ArrayList<>();
        List<String> before = new ArrayList<>();
        for (int pod : pods) {
          String listener = workload.podListener(pod);
          listeners.add(listener);
          before.add(envoy.version(SimulatedEnvoy.LDS, listener));
        }
        arrived.add(envoy.when(layerChanged.and(changed(SimulatedEnvoy.LDS, listeners, before))));
      }
      affectedNodes.add(arrived.size());
      long t0 = replace(workload.service(service, addPort));
      List<Double> times = awaitAll(arrived, t0, config.eventDeadline());
      timeouts += timeouts(arrived);
      toAll.add(Results.max(times));
      Thread.sleep(500);
    }
    phaseDone(popular ? "service changes (svc-0)" : "service changes (one-team)");
    double cpu = process.cpuSeconds() - phaseCpu;
    long bytes = stats.bytes.sum() - phaseBytes;
    String what = popular ? "svc-0 (all pods)" : "one-team service";
    log("service changes (%s): to all affected nodes p50 %.1f ms, max %.1f ms, %d timeouts", what,
        Results.percentile(toAll, 50), Results.max(toAll), timeouts);
    String key = popular ? "popular" : "service";
    results.put(key + "P50", "service change (" + what + ") -> all affected nodes, p50",
        Results.percentile(toAll, 50), "ms", Double.NaN, String.format(Locale.ROOT, "%.0f nodes; load %s%s",
            Results.mean(affectedNodes), fmt(load), timeoutNote(timeouts)));
    results.put(key + "Max", "service change (" + what + ") -> all affected nodes, max", Results.max(toAll), "ms");
    results.put(key + "Bytes", "service change (" + what + "): bytes pushed per change", bytes / 1e6 / changes,
        "MB");
    results.put(key + "Cpu", "service change (" + what + "): control plane CPU per change", cpu / changes, "s");
  }

  private void finish() throws Exception {
    double cpu = process.cpuSeconds();
    ServerProcess.Heap heap = process.heap();
    long retained = process.retainedAfterFullGcMb(out.resolve(target.label + "-histogram-end.txt"));
    results.put("cpuTotal", "control plane CPU, whole run", cpu, "s");
    results.put("heapPeakAfterGc", "heap: peak after any young/mixed GC", heap.peakAfterGcMb(), "MB", 1024, "");
    results.put("heapPeakUsed", "heap: peak used before GC (-Xmx " + target.xmx(config) + ")", heap.peakUsedMb(),
        "MB");
    results.put("heapRetainedEnd", "heap retained at the end (forced full GC)", retained, "MB");
    results.put("gcPauses", "GC pauses, whole run", heap.pauseSeconds(), "s", Double.NaN, heap.pauses() + " pauses");
    results.put("decodeErrors", "client decode errors / stream errors", stats.decodeErrors.sum()
        + envoys.stream().filter(e -> e.error() != null).count(), "");
    log("%s: CPU %.1f s, heap peak after GC %d MB, retained %d MB", target.label, cpu, heap.peakAfterGcMb(),
        retained);
    envoys.forEach(SimulatedEnvoy::close);
    process.stop(Duration.ofSeconds(60));
    if (process.jfrFile() != null && Files.exists(process.jfrFile())) {
      List<String> packages = List.of("io.nodemesh.", "io.envoyproxy.controlplane.");
      StringBuilder summary = new StringBuilder("== whole run ==\n")
          .append(JfrSummary.summarize(process.jfrFile(), packages, 25));
      for (Phase phase : phases) {
        summary.append("\n== ").append(phase.name()).append(" ==\n")
            .append(JfrSummary.summarize(process.jfrFile(), packages, 15, "", phase.start(), phase.end()));
      }
      jfrSummary = summary.toString();
      Files.writeString(out.resolve("jfr-" + target.label + ".txt"), jfrSummary);
    }
  }

  // ---- helpers

  private void beginPhase() {
    envoys.forEach(SimulatedEnvoy::forgetWaiters); // abandoned waits of the previous phase
    phaseCpu = process.cpuSeconds();
    phaseBytes = stats.bytes.sum();
    phaseHarnessCpu = ServerProcess.ownCpuSeconds();
    phaseStart = System.nanoTime();
    phaseStartWall = java.time.Instant.now();
  }

  /** A write that changed a service's endpoints, and per Envoy holding them, when the change arrived there. */
  private record EndpointChange(long writeNanos, List<CompletableFuture<Long>> arrivals) {}

  /** Lists churn pods of one app in its service's slice, or takes them out, with one slice write. */
  private EndpointChange writeEndpoints(int app, Collection<Workload.ChurnPod> pods, boolean listed) {
    // the waits are set up under the slice's lock, so an earlier write of that slice is not taken for this one
    // once its update has arrived; one still in flight can be (two events of one service within the latency)
    return workload.updateEndpoints(app, pods, listed, slice -> {
      List<CompletableFuture<Long>> arrivals = nextEndpointChange(app);
      return new EndpointChange(replace(slice), arrivals);
    });
  }

  /**
   * Per Envoy whose node's pods call the service, a future completing when the endpoints of all the service's
   * ports next change there. Set up before writing the change.
   */
  private List<CompletableFuture<Long>> nextEndpointChange(int service) {
    List<String> names = new ArrayList<>();
    for (int port : Workload.PORTS) {
      names.add(workload.servicePortName(service, port));
    }
    String sharedCluster = names.get(0); // held by every node calling the service (an HTTP/gRPC port)
    List<CompletableFuture<Long>> arrivals = new ArrayList<>();
    for (int n = 0; n < envoys.size(); n++) {
      if (!expectedClusters.get(n).contains(sharedCluster)) {
        continue;
      }
      SimulatedEnvoy envoy = envoys.get(n);
      List<String> before = new ArrayList<>();
      for (String name : names) {
        before.add(envoy.version(SimulatedEnvoy.EDS, name));
      }
      arrivals.add(envoy.when(changed(SimulatedEnvoy.EDS, names, before)));
    }
    return arrivals;
  }

  /**
   * Replaces an object with one PUT at its current resourceVersion (without one, fabric8 reads it first
   * itself); returns {@link System#nanoTime()} just before the PUT.
   */
  private long replace(HasMetadata object) {
    object.getMetadata().setResourceVersion(client.resource(object).get().getMetadata().getResourceVersion());
    long beforePut = System.nanoTime();
    client.resource(object).update();
    return beforePut;
  }

  /** A condition: each named resource of {@code type} now has a version other than the one before. */
  private static Predicate<SimulatedEnvoy> changed(String type, List<String> names, List<String> before) {
    return envoy -> {
      for (int i = 0; i < names.size(); i++) {
        String now = envoy.version(type, names.get(i));
        if (now == null || now.equals(before.get(i))) {
          return false;
        }
      }
      return true;
    };
  }

  /** Waits for all futures until the deadline; returns the completed ones as ms since {@code startNanos}. */
  private static List<Double> awaitAll(List<CompletableFuture<Long>> futures, long startNanos, Duration deadline)
      throws InterruptedException {
    return awaitUntil(futures, startNanos, System.nanoTime() + deadline.toNanos());
  }

  /** Waits for all futures until {@code end} (nanoTime); returns the completed ones as ms since {@code startNanos}. */
  private static List<Double> awaitUntil(List<CompletableFuture<Long>> futures, long startNanos, long end)
      throws InterruptedException {
    List<Double> times = new ArrayList<>();
    for (CompletableFuture<Long> future : futures) {
      try {
        long left = Math.max(1, end - System.nanoTime());
        Long t = future.get(left, TimeUnit.NANOSECONDS);
        times.add((t - startNanos) / MS);
      } catch (TimeoutException e) {
        // counted by timeouts()
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }
    return times;
  }

  private static int timeouts(List<CompletableFuture<Long>> futures) {
    int count = 0;
    for (CompletableFuture<Long> future : futures) {
      if (!future.isDone()) {
        count++;
        future.cancel(false);
      }
    }
    return count;
  }

  private void padTimeouts(List<Double> sample, int timeouts) {
    for (int i = 0; i < timeouts; i++) {
      sample.add((double) config.eventDeadline().toMillis());
    }
  }

  private static String timeoutNote(int timeouts) {
    return timeouts == 0 ? "" : "; " + timeouts + " timed out";
  }

  private static <T> List<T> snapshot(List<T> list) {
    synchronized (list) {
      return new ArrayList<>(list);
    }
  }

  private static String fmt(double load) {
    return String.format(Locale.ROOT, "%.1f", load);
  }

  static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger counter = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, name + "-" + counter.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[bench %tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, format,
        args));
  }

  Results results() {
    return results;
  }
}
