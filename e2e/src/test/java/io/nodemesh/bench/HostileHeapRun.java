package io.nodemesh.bench;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.nodemesh.e2e.ControlPlaneProcess;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Retained heap of the control plane under issue 14's hostile xDS clients, at the chart's heap: the fat jar runs
 * as a process ({@code --demo}, {@code -Xmx1152m} and {@code -XX:+ExitOnOutOfMemoryError} as in the chart) and
 * a delta ADS client in this JVM attacks it, one fresh process per scenario. Retained heap is the heap after a
 * full GC forced with {@code jcmd GC.class_histogram} ({@link ServerProcess}): before the attack, while its
 * streams are open, and after every stream closed. It measures and reports; it asserts nothing and is not run by
 * any build.
 *
 * <p>How to run, from the repository root (nothing goes to {@code ~/.m2}):
 * <pre>
 *   mvn -o -q -DskipTests package -pl demo -am
 *   mvn -o -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt \
 *       -Dmdep.includeScope=test -pl e2e -am
 *   cd e2e &amp;&amp; java -Xmx3g -cp target/test-classes:$(cat target/test-classpath.txt) -Dheap.label=new \
 *       io.nodemesh.bench.HostileHeapRun
 * </pre>
 * System properties: {@code nodemesh.heap.jar} (default this build's demo jar; another build's, e.g. an old
 * commit's control plane jar, which then runs with {@code --demo}), {@code heap.label},
 * {@code heap.scenarios} (comma-separated names of {@link #SCENARIOS}), {@code heap.flags} (extra control plane
 * flags, space-separated, e.g. {@code --xds-allow-anonymous-clients=false --trust-loopback-clients=false}),
 * {@code heap.attacker} ({@code anonymous}: no node_name, from 127.0.0.1; {@code node}: claims demo node-a from
 * its InternalIP 127.0.1.1, so it passes the peer check without trusted loopback), {@code heap.xmx},
 * {@code heap.gc} ({@code serial}, what the chart's pod gets, or {@code g1}), {@code heap.rounds} (attacks on one
 * process, 1), {@code heap.lingerSeconds} (a last sample this long after the close, 0: none), {@code heap.output}.
 * Rows are appended to {@code <output>/report.md}; logs, GC logs and histograms stay beside it.
 */
public final class HostileHeapRun {

  private static final Pattern XDS_READY = Pattern.compile("xDS \\(ADS, SotW and Delta\\) listening on port (\\d+)");
  private static final Pattern FLAG = Pattern.compile("^\\s+--([a-z0-9-]+)\\s");
  /** The demo's shared services (DemoCluster): the names any client may subscribe to. */
  private static final List<String> SHARED = List.of("svc/demo/frontend/80", "svc/demo/checkout/50051",
      "svc/demo/cart/8080", "svc/demo/catalog/9090", "svc/demo/payments/7000", "svc/demo/redis/6379");
  /** Demo node-a and its InternalIP (DemoCluster), for the attacker that authenticates as a node. */
  private static final String NODE = "node-a";
  private static final String NODE_ADDRESS = "127.0.1.1";
  /** The xDS server's default request limit (--xds-max-request-bytes) less room for the envelope. */
  private static final int REQUEST_BUDGET = 4 * 1024 * 1024 - 8 * 1024;
  private static final Duration SCENARIO_DEADLINE = Duration.ofSeconds(150);

  /** The attacks of issue 14, by name. */
  static final Map<String, Scenario> SCENARIOS = scenarios();

  private final String label;
  private final String attacker;
  private final List<String> extraFlags;
  private final String xmx;
  /**
   * The chart sets no collector, and a JVM in its 1536Mi container (less than 1792 MB: not a "server class
   * machine") picks Serial; G1 would round every multi-megabyte array up to whole regions.
   */
  private final String gc;
  /** Attacks on the same process, one after the other: heap left after each close that adds up is a leak. */
  private final int rounds;
  private final int lingerSeconds;
  private final Path out;
  private final Path jar;
  private final Set<String> supportedFlags;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final ExecutorService grpcPool = Executors.newFixedThreadPool(4, BenchRun.daemon("hostile-grpc"));

  private HostileHeapRun() throws Exception {
    label = System.getProperty("heap.label", "run");
    attacker = System.getProperty("heap.attacker", "anonymous");
    if (!attacker.equals("anonymous") && !attacker.equals("node")) {
      throw new IllegalArgumentException("heap.attacker must be anonymous or node: " + attacker);
    }
    String flags = System.getProperty("heap.flags", "").trim();
    extraFlags = flags.isEmpty() ? List.of() : List.of(flags.split("\\s+"));
    xmx = System.getProperty("heap.xmx", "1152m");
    gc = System.getProperty("heap.gc", "serial");
    rounds = Integer.getInteger("heap.rounds", 1);
    lingerSeconds = Integer.getInteger("heap.lingerSeconds", 0);
    if (!gc.equals("serial") && !gc.equals("g1")) {
      throw new IllegalArgumentException("heap.gc must be serial or g1: " + gc);
    }
    out = Paths.get(System.getProperty("heap.output", "target/hostile-heap")).toAbsolutePath();
    // an old commit's control plane jar runs its own --demo; this build's demo is a jar of its own
    jar = (System.getProperty("nodemesh.heap.jar") != null ? Paths.get(System.getProperty("nodemesh.heap.jar"))
        : ControlPlaneProcess.demoJar()).toAbsolutePath();
    supportedFlags = supportedFlags(jar);
  }

  public static void main(String[] args) throws Exception {
    HostileHeapRun run = new HostileHeapRun();
    List<String> names = List.of(System.getProperty("heap.scenarios", String.join(",", SCENARIOS.keySet()))
        .split(","));
    try {
      for (String name : names) {
        Scenario scenario = SCENARIOS.get(name.trim());
        if (scenario == null) {
          throw new IllegalArgumentException("unknown scenario " + name + "; known: " + SCENARIOS.keySet());
        }
        run.report(run.execute(scenario));
      }
    } finally {
      run.grpcPool.shutdownNow();
    }
    System.exit(0); // gRPC's and the HTTP client's threads are not all daemons
  }

  // ---- scenarios

  /** One attack: what it is called, what it does, and how it is sized. */
  record Scenario(String name, Kind kind, int clients, int count, int chars, String describe) {

    /** Names each stream subscribes to at most: the old server's per-stream limit (--xds-max-subscribed-names). */
    int names() {
      return kind == Kind.NAMES ? count : 100_000;
    }
  }

  /** The kinds of attack of issue 14 (findings 1, 2 and 6). */
  enum Kind {
    /** One stream per node id, one after the other: subscribe the shared CDS/EDS/RDS names, NACK everything. */
    NACK,
    /** {@code clients} streams at once, each subscribing {@code count} unknown EDS names of {@code chars}. */
    NAMES,
    /** {@code clients} loops of streams, each subscribing names until refused, for {@code count} seconds. */
    NAMES_CHURN,
    /** {@code count} streams with distinct node ids of {@code chars}, 20 at a time, each ACKing LDS/CDS/EDS/RDS. */
    NODE_IDS
  }

  private static Map<String, Scenario> scenarios() {
    Map<String, Scenario> all = new java.util.LinkedHashMap<>();
    for (Scenario s : List.of(
        new Scenario("nack-2m", Kind.NACK, 5, 0, 2 * 1024 * 1024, "5 node ids, NACKs of 2 MiB"),
        new Scenario("nack-3.9m", Kind.NACK, 25, 0, (int) (3.9 * 1024 * 1024), "25 node ids, NACKs of 3.9 MiB"),
        new Scenario("names-1k", Kind.NAMES, 2, 100_000, 1_000, "2 streams x 100k unknown names of 1,000 chars"),
        new Scenario("names-1.5k", Kind.NAMES, 12, 100_000, 1_500, "12 streams x 100k unknown names of 1,500 chars"),
        new Scenario("names-12x1k", Kind.NAMES, 12, 100_000, 1_000,
            "12 streams x 100k unknown names of 1,000 chars (under the name length cap)"),
        new Scenario("names-churn", Kind.NAMES_CHURN, 4, 60, 1_000,
            "4 loops x 60 s of streams subscribing 1,000-char names until refused, reconnecting at once"),
        new Scenario("names-churn-8", Kind.NAMES_CHURN, 8, 60, 1_000,
            "8 loops x 60 s of streams subscribing 1,000-char names until refused, reconnecting at once"),
        new Scenario("ids-10k", Kind.NODE_IDS, 0, 2_000, 10_000, "2,000 node ids of 10,000 chars, ACKing"),
        new Scenario("ids-256", Kind.NODE_IDS, 0, 2_000, 256, "2,000 node ids of 256 chars (the new cap), ACKing"))) {
      all.put(s.name(), s);
    }
    return all;
  }

  /** What one scenario measured; heap figures in MB, -1 where the process was gone. */
  record Outcome(Scenario scenario, long baselineMb, long peakMb, long afterCloseMb, String oom, long maxUsedMb,
      Map<String, Integer> statuses, String progress, Map<String, Double> counters, Path log) {}

  private Outcome execute(Scenario scenario) throws Exception {
    String name = label + "-" + scenario.name();
    Path dir = Files.createDirectories(out.resolve(name));
    log("%s: %s against %s (%s attacker, flags %s)", name, scenario.describe(), jar, attacker, extraFlags);
    int xdsPort = freePort();
    int adminPort = freePort();
    List<String> args = new ArrayList<>(List.of("-jar", jar.toString(), "--xds-port=" + xdsPort,
        "--admin-port=" + adminPort));
    if (!jar.getFileName().toString().equals(ControlPlaneProcess.demoJar().getFileName().toString())) {
      args.add(2, "--demo");
    }
    if (supportedFlags.contains("debug-port")) {
      // the new binary's debug port would otherwise take its fixed default and collide with anything else here
      args.add("--debug-port=" + freePort());
    }
    args.addAll(extraFlags);
    // the chart's OOM behaviour: the pod dies and restarts rather than limping on
    List<String> jvm = List.of(gc.equals("g1") ? "-XX:+UseG1GC" : "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError");
    Samples samples = new Samples(dir);
    Attack attack = new Attack(scenario);
    try (ServerProcess process = ServerProcess.start(name, dir, xmx, false, jvm, args, null)) {
      samples.process = process;
      process.awaitLog(XDS_READY, Duration.ofSeconds(120));
      awaitReady(adminPort, Duration.ofSeconds(120));
      // the demo's own Envoys connect and the JIT settles before the baseline
      Thread.sleep(5_000);
      long baseline = samples.take("baseline", false);
      long after = -1;
      for (int round = 1; round <= rounds && process.isAlive(); round++) {
        ManagedChannel channel = SimulatedEnvoy.channel(xdsPort, grpcPool, attacker.equals("node") ? NODE_ADDRESS : null);
        long deadline = System.nanoTime() + SCENARIO_DEADLINE.toNanos();
        try {
          switch (scenario.kind()) {
            case NACK -> attack.nacks(channel, samples, deadline);
            case NAMES -> attack.names(channel, samples, deadline);
            case NAMES_CHURN -> attack.namesChurn(channel, samples, deadline);
            case NODE_IDS -> attack.nodeIds(channel, samples, deadline);
            default -> throw new IllegalStateException(scenario.kind().name());
          }
        } finally {
          attack.closeAll();
          channel.shutdownNow();
        }
        // the server's close handling runs on its stream executors
        Thread.sleep(3_000);
        after = samples.take(rounds == 1 ? "after close" : "after close, round " + round, false);
      }
      if (lingerSeconds > 0 && process.isAlive()) {
        // whether what stayed after the close is a leak or only waits for a timer (quarantine forgetting, idle)
        Thread.sleep(TimeUnit.SECONDS.toMillis(lingerSeconds));
        after = samples.take("after close + " + lingerSeconds + " s", false);
      }
      Map<String, Double> counters = process.isAlive() ? counters(adminPort, dir) : Map.of();
      String oom = oom(process);
      long maxUsed = process.heap().peakUsedMb();
      process.stop(Duration.ofSeconds(30));
      return new Outcome(scenario, baseline, samples.peak(), after, oom, maxUsed, attack.statuses(),
          attack.progress(), counters, process.logFile());
    }
  }

  // ---- the attacking client

  /** The attacker's streams for one scenario and what it saw of them. */
  private final class Attack {
    private final Scenario scenario;
    private final List<AttackStream> streams = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Integer> statuses = new ConcurrentHashMap<>();
    private final StringBuilder progress = new StringBuilder();

    Attack(Scenario scenario) {
      this.scenario = scenario;
    }

    /** Finding 1: per node id, NACK every response with a huge message until the server goes quiet. */
    void nacks(ManagedChannel channel, Samples samples, long deadline) throws Exception {
      String message = "x".repeat(scenario.chars());
      int done = 0;
      for (int i = 0; i < scenario.clients() && System.nanoTime() < deadline; i++) {
        AttackStream stream = open(channel, response -> response.getResourcesCount() > 0
            ? HostileHeapRun.nack(response, message) : ack(response));
        Node node = node("nacker-" + i);
        stream.send(subscribe(SimulatedEnvoy.CDS, SHARED).setNode(node).build());
        stream.send(subscribe(SimulatedEnvoy.EDS, SHARED).build());
        stream.send(subscribe(SimulatedEnvoy.RDS, SHARED).build());
        stream.awaitQuiet(Duration.ofMillis(1500), Duration.ofSeconds(30));
        done++;
        long retained = samples.take("node id " + (i + 1) + " (" + stream.nacks.get() + " NACKs)");
        stream.close();
        if (retained < 0) {
          break;
        }
      }
      note(done + "/" + scenario.clients() + " node ids attacked, "
          + streams.stream().mapToInt(s -> s.nacks.get()).sum() + " NACKs");
    }

    /** Finding 2: streams at once, each subscribing as many long unknown names as the server will take. */
    void names(ManagedChannel channel, Samples samples, long deadline) throws Exception {
      List<AttackStream> mine = new ArrayList<>();
      for (int s = 0; s < scenario.clients(); s++) {
        mine.add(open(channel, HostileHeapRun::ack));
      }
      AtomicInteger sent = new AtomicInteger();
      List<Thread> senders = new ArrayList<>();
      for (int s = 0; s < mine.size(); s++) {
        AttackStream stream = mine.get(s);
        int streamIndex = s;
        senders.add(daemon("hostile-names-" + s, () -> subscribeNames(stream, streamIndex, sent, deadline)));
      }
      sampleWhile(senders, samples, deadline, () -> String.format(Locale.ROOT, "%,d names sent", sent.get()));
      for (AttackStream stream : mine) {
        // the server reads one request at a time: the last ones are still being handled
        stream.awaitQuiet(Duration.ofSeconds(3), Duration.ofSeconds(60));
      }
      int open = (int) mine.stream().filter(s -> !s.ended.isDone()).count();
      samples.take("all streams subscribed (" + open + " open)");
      note(String.format(Locale.ROOT, "%,d names sent on %d streams (%d still open), %,d responses", sent.get(),
          mine.size(), open, mine.stream().mapToInt(s -> s.responses.get()).sum()));
    }

    /**
     * Finding 2 against the per-address byte cap: {@code clients} loops, each opening a stream, subscribing
     * names until the server refuses it, and opening the next at once, for {@code count} seconds. A refused
     * stream's names must go with it, however fast the client comes back.
     */
    void namesChurn(ManagedChannel channel, Samples samples, long deadline) throws Exception {
      long end = Math.min(deadline, System.nanoTime() + TimeUnit.SECONDS.toNanos(scenario.count()));
      AtomicInteger sent = new AtomicInteger();
      AtomicInteger opened = new AtomicInteger();
      List<Thread> loops = new ArrayList<>();
      for (int l = 0; l < scenario.clients(); l++) {
        loops.add(daemon("hostile-churn-" + l, () -> {
          while (System.nanoTime() < end) {
            AttackStream stream = open(channel, HostileHeapRun::ack);
            subscribeNames(stream, opened.incrementAndGet(), sent, end);
            stream.close();
          }
        }));
      }
      sampleWhile(loops, samples, end, () -> String.format(Locale.ROOT, "%,d streams, %,d names sent", opened.get(),
          sent.get()));
      note(String.format(Locale.ROOT, "%,d streams opened one after the other by %d loops, %,d names sent",
          opened.get(), scenario.clients(), sent.get()));
    }

    /**
     * Subscribes one stream to unknown EDS names (distinct per {@code streamIndex}), {@code count} in all or until
     * the stream ends, each request as large as the server accepts.
     */
    private void subscribeNames(AttackStream stream, int streamIndex, AtomicInteger sent, long deadline) {
      int perRequest = Math.max(1, REQUEST_BUDGET / (scenario.chars() + 4));
      try {
        for (int from = 0; from < scenario.names() && !stream.ended.isDone() && System.nanoTime() < deadline;
            from += perRequest) {
          List<String> batch = new ArrayList<>(perRequest);
          for (int n = from; n < Math.min(scenario.names(), from + perRequest); n++) {
            batch.add(longName(streamIndex, n, scenario.chars()));
          }
          DeltaDiscoveryRequest.Builder request = subscribe(SimulatedEnvoy.EDS, batch);
          if (from == 0) {
            request.setNode(node("names-" + streamIndex));
          }
          stream.send(request.build());
          sent.addAndGet(batch.size());
        }
        // the refusal comes once the server read the request that crossed the limit
        stream.awaitQuiet(Duration.ofMillis(500), Duration.ofSeconds(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Samples every 10 s while the attacking threads run: a server that runs out of heap leaves no sample after. */
    private void sampleWhile(List<Thread> threads, Samples samples, long deadline,
        java.util.function.Supplier<String> when) throws Exception {
      long nextSample = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (threads.stream().anyMatch(Thread::isAlive) && System.nanoTime() < deadline) {
        Thread.sleep(200); // pacing the samples
        if (System.nanoTime() >= nextSample) {
          if (samples.take(when.get()) < 0) {
            break;
          }
          nextSample = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        }
      }
      for (Thread thread : threads) {
        thread.join(TimeUnit.SECONDS.toMillis(10));
      }
    }

    /** Finding 6: many distinct node ids, each a short well-behaved session that ACKs every type. */
    void nodeIds(ManagedChannel channel, Samples samples, long deadline) throws Exception {
      int concurrency = 20;
      int done = 0;
      int nextSample = scenario.count() / 4;
      while (done < scenario.count() && System.nanoTime() < deadline) {
        List<AttackStream> batch = new ArrayList<>();
        for (int i = 0; i < concurrency && done + i < scenario.count(); i++) {
          AttackStream stream = open(channel, HostileHeapRun::ack);
          String id = String.format(Locale.ROOT, "id-%06d-", done + i);
          stream.send(subscribe(SimulatedEnvoy.LDS, List.of())
              .setNode(node(id + "x".repeat(Math.max(0, scenario.chars() - id.length())))).build());
          stream.send(subscribe(SimulatedEnvoy.CDS, List.of()).build());
          stream.send(subscribe(SimulatedEnvoy.EDS, SHARED.subList(0, 1)).build());
          stream.send(subscribe(SimulatedEnvoy.RDS, SHARED.subList(0, 1)).build());
          batch.add(stream);
        }
        for (AttackStream stream : batch) {
          stream.awaitTypes(4, Duration.ofSeconds(5));
          stream.close();
        }
        done += batch.size();
        if (done >= nextSample && done < scenario.count()) {
          if (samples.take(done + " node ids") < 0) {
            break;
          }
          nextSample += scenario.count() / 4;
        }
        streams.removeAll(batch);
      }
      note(String.format(Locale.ROOT, "%,d/%,d node ids connected", done, scenario.count()));
    }

    private AttackStream open(ManagedChannel channel, Function<DeltaDiscoveryResponse, DeltaDiscoveryRequest> answer) {
      AttackStream stream = new AttackStream(answer, statuses);
      AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(stream);
      streams.add(stream);
      return stream;
    }

    /** Rounds ({@code heap.rounds}) add to what the attack did, separated by "; ". */
    private void note(String text) {
      progress.append(progress.length() > 0 ? "; " : "").append(text);
    }

    void closeAll() {
      List<AttackStream> all;
      synchronized (streams) {
        all = new ArrayList<>(streams);
      }
      all.forEach(AttackStream::close);
    }

    Map<String, Integer> statuses() {
      return new TreeMap<>(statuses);
    }

    String progress() {
      return progress.toString();
    }
  }

  /**
   * One delta ADS stream that answers every response at once (ACK or NACK, from the gRPC callback) and sends its
   * own requests only when the transport is ready, so a 4 MiB request waits for the server to read the last.
   */
  private static final class AttackStream
      implements ClientResponseObserver<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
    private final Function<DeltaDiscoveryResponse, DeltaDiscoveryRequest> answer;
    private final Map<String, Integer> statuses;
    private final Set<String> typesAnswered = ConcurrentHashMap.newKeySet();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    final AtomicInteger nacks = new AtomicInteger();
    final AtomicInteger responses = new AtomicInteger();
    private volatile long lastActivityNanos = System.nanoTime();
    private ClientCallStreamObserver<DeltaDiscoveryRequest> requests;

    AttackStream(Function<DeltaDiscoveryResponse, DeltaDiscoveryRequest> answer, Map<String, Integer> statuses) {
      this.answer = answer;
      this.statuses = statuses;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<DeltaDiscoveryRequest> requestStream) {
      this.requests = requestStream;
    }

    @Override
    public void onNext(DeltaDiscoveryResponse response) {
      lastActivityNanos = System.nanoTime();
      responses.incrementAndGet();
      typesAnswered.add(response.getTypeUrl());
      DeltaDiscoveryRequest reply = answer.apply(response);
      if (reply.hasErrorDetail()) {
        nacks.incrementAndGet();
      }
      write(reply);
    }

    @Override
    public void onError(Throwable error) {
      Status status = Status.fromThrowable(error);
      if (status.getCode() != Status.Code.CANCELLED || !"attack over".equals(status.getDescription())) {
        statuses.merge(status.getCode() + ": " + abbreviate(status.getDescription()), 1, Integer::sum);
      }
      ended.complete(status);
    }

    @Override
    public void onCompleted() {
      statuses.merge("OK (server closed the stream)", 1, Integer::sum);
      ended.complete(Status.OK);
    }

    /** Waits (polling, never under the lock) until the transport takes more, then writes. */
    void send(DeltaDiscoveryRequest request) throws InterruptedException {
      while (!requests.isReady() && !ended.isDone()) {
        Thread.sleep(1); // the onReady callback runs on the thread that also delivers onNext: polling blocks neither
      }
      if (!ended.isDone()) {
        write(request);
        lastActivityNanos = System.nanoTime();
      }
    }

    private void write(DeltaDiscoveryRequest request) {
      synchronized (this) {
        if (!ended.isDone()) {
          requests.onNext(request);
        }
      }
    }

    /** Returns once the stream saw no traffic for {@code quiet}, ended, or {@code max} passed. */
    void awaitQuiet(Duration quiet, Duration max) throws InterruptedException {
      long deadline = System.nanoTime() + max.toNanos();
      while (!ended.isDone() && System.nanoTime() < deadline
          && System.nanoTime() - lastActivityNanos < quiet.toNanos()) {
        Thread.sleep(50); // polling the last-activity clock
      }
    }

    /** Returns once responses of {@code count} types arrived, the stream ended, or {@code max} passed. */
    void awaitTypes(int count, Duration max) throws InterruptedException {
      long deadline = System.nanoTime() + max.toNanos();
      while (!ended.isDone() && typesAnswered.size() < count && System.nanoTime() < deadline) {
        Thread.sleep(5); // polling; answers come within milliseconds
      }
      // the last ACK must reach the server before the cancel does
      Thread.sleep(20);
    }

    void close() {
      synchronized (this) {
        if (!ended.isDone()) {
          requests.cancel("attack over", null);
        }
      }
    }
  }

  private static Thread daemon(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  private Node node(String id) {
    Node.Builder node = Node.newBuilder().setId(id);
    if (attacker.equals("node")) {
      node.setMetadata(Struct.newBuilder().putFields("node_name", Value.newBuilder().setStringValue(NODE).build()));
    }
    return node.build();
  }

  private static DeltaDiscoveryRequest.Builder subscribe(String typeUrl, List<String> names) {
    return DeltaDiscoveryRequest.newBuilder().setTypeUrl(typeUrl).addAllResourceNamesSubscribe(names);
  }

  private static DeltaDiscoveryRequest ack(DeltaDiscoveryResponse response) {
    return DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setResponseNonce(response.getNonce())
        .build();
  }

  private static DeltaDiscoveryRequest nack(DeltaDiscoveryResponse response, String message) {
    return DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setResponseNonce(response.getNonce())
        .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(message)).build();
  }

  /** Distinct per stream: the old server interned names, so repeats across streams would cost it nothing. */
  private static String longName(int stream, int n, int chars) {
    String head = "svc/x/" + stream + "-" + n + "/";
    char[] pad = new char[Math.max(0, chars - head.length())];
    Arrays.fill(pad, 'n');
    return head + new String(pad);
  }

  // ---- measuring

  /** Retained-heap samples of one process; the peak is the largest one taken while the attack's streams were open. */
  private static final class Samples {
    private final Path dir;
    private final List<String> lines = new ArrayList<>();
    private ServerProcess process;
    private long peak = -1;
    private int taken;

    Samples(Path dir) {
      this.dir = dir;
    }

    /** Forces a full GC and returns the heap after it (MB), or -1 when the process is gone. */
    long take(String when) throws IOException, InterruptedException {
      return take(when, true);
    }

    long take(String when, boolean attacking) throws IOException, InterruptedException {
      long retained = -1;
      String live = "";
      if (process.isAlive()) {
        Path histogram = dir.resolve(String.format(Locale.ROOT, "histogram-%02d.txt", taken));
        retained = process.retainedAfterFullGcMb(histogram);
        live = liveMb(histogram);
      }
      if (taken > 0 && attacking) {
        peak = Math.max(peak, retained);
      }
      taken++;
      String line = String.format(Locale.ROOT, "%s %-45s retained %s%s", Instant.now(), when,
          retained < 0 ? "- (process gone)" : retained + " MB", live);
      lines.add(line);
      Files.write(dir.resolve("samples.txt"), lines);
      log("  %s", line);
      return retained;
    }

    long peak() {
      return peak;
    }

    /** The histogram's total of live objects, as text for the sample line ("" when it has none). */
    private static String liveMb(Path histogram) throws IOException {
      List<String> lines = Files.exists(histogram) ? Files.readAllLines(histogram) : List.of();
      if (lines.isEmpty() || !lines.get(lines.size() - 1).startsWith("Total")) {
        return "";
      }
      String[] fields = lines.get(lines.size() - 1).trim().split("\\s+");
      return String.format(Locale.ROOT, " (live objects %d MB)", Long.parseLong(fields[2]) / (1024 * 1024));
    }
  }

  private void awaitReady(int adminPort, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort
            + "/readyz")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
        if (response.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(200); // polling until ready or the deadline
    }
    throw new IllegalStateException("control plane not ready within " + timeout);
  }

  /** The server's own view of what it refused or withheld (both binaries' metric names), summed per series. */
  private Map<String, Double> counters(int adminPort, Path dir) {
    Map<String, Double> counters = new TreeMap<>();
    try {
      String text = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
      Files.writeString(dir.resolve("metrics.txt"), text);
      Pattern wanted = Pattern.compile("^(nodemesh_xds_(quarantine|limit_rejections|auth_denied|bad_requests"
          + "|nacks_total|nack_isolation)\\S*) (\\S+)$");
      for (String line : text.split("\n")) {
        Matcher match = wanted.matcher(line);
        if (match.find()) {
          double value = Double.parseDouble(match.group(3));
          if (value > 0) {
            counters.put(match.group(1), value);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      counters.put("metrics unavailable: " + e, 0.0);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return counters;
  }

  /** How the process ran out of heap, if it did: its last words, or its death. */
  private static String oom(ServerProcess process) {
    for (String line : process.output()) {
      if (line.contains("OutOfMemoryError")) {
        return "yes: " + abbreviate(line.trim());
      }
    }
    return process.isAlive() ? "no" : "process died (no OutOfMemoryError in its log)";
  }

  private void report(Outcome o) throws IOException {
    Path report = out.resolve("report.md");
    if (!Files.exists(report)) {
      Files.createDirectories(out);
      Files.writeString(report, "| run | scenario | attacker | flags | baseline MB | peak MB | after close MB "
          + "| max used MB (GC log) | OOM | attack | client saw | server counters |\n"
          + "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    }
    String row = String.format(Locale.ROOT, "| %s | %s: %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |%n",
        label, o.scenario().name(), o.scenario().describe(), attacker,
        extraFlags.isEmpty() ? "demo" : "demo " + String.join(" ", extraFlags), mb(o.baselineMb()),
        mb(o.peakMb()), mb(o.afterCloseMb()), o.maxUsedMb(), o.oom(), o.progress(), o.statuses(), o.counters());
    Files.writeString(report, row, StandardOpenOption.APPEND);
    log("%s", row.trim());
    log("process log: %s", o.log());
  }

  private static String mb(long value) {
    return value < 0 ? "-" : Long.toString(value);
  }

  /** Flags the jar's {@code --help} lists: an old build lacks the newer ones and refuses them. */
  private static Set<String> supportedFlags(Path jar) throws IOException, InterruptedException {
    Process help = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        jar.toString(), "--help").redirectErrorStream(true).start();
    String text = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    help.waitFor(60, TimeUnit.SECONDS);
    Set<String> flags = new TreeSet<>();
    for (String line : text.split("\n")) {
      Matcher match = FLAG.matcher(line);
      if (match.find()) {
        flags.add(match.group(1));
      }
    }
    return flags;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static String abbreviate(String text) {
    if (text == null) {
      return "";
    }
    String line = text.replace('\n', ' ').replace('|', '/');
    return line.length() <= 240 ? line : line.substring(0, 240) + "...";
  }

  private static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[hostile-heap %tT] %s%n", System.currentTimeMillis(),
        String.format(Locale.ROOT, format, args));
  }
}
