package io.nodemesh.bench;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The soak's knobs ({@code -Dsoak.*}; the workload's scale and the control plane's JVM come from
 * {@link BenchConfig}'s {@code -Dbench.*}). Defaults are issue 9's run: 30 minutes, 200 nodes.
 *
 * @param workload the synthetic cluster (scale, control plane heap and flags)
 * @param duration how long the churn runs
 * @param changesPerSecond API writes per second (Poisson arrivals), mixed as {@link SoakRun} describes
 * @param churnPods the number of live churn pods the pod adds and deletes hover around
 * @param sotwEvery every n-th node's client uses SotW, the others delta (0: all delta)
 * @param faults what is broken when, in order
 * @param checkpointEvery a pause to check every client against the expectation, this often (zero: only after
 *     each fault and at the end)
 * @param sampleEvery how often the control plane's retained heap is measured (a forced full GC)
 * @param apiOutage how long the API server stays away in an API server restart (writes go on meanwhile, as
 *     through another replica)
 * @param controlPlaneDowntime how long a killed or stopped control plane stays down before it starts again
 * @param convergeDeadline how long a checkpoint waits for every client to hold the expected state
 * @param output where the report, logs and heap histograms go
 */
record SoakConfig(
    BenchConfig workload,
    Duration duration,
    double changesPerSecond,
    int churnPods,
    int sotwEvery,
    List<Fault> faults,
    Duration checkpointEvery,
    Duration sampleEvery,
    Duration apiOutage,
    Duration controlPlaneDowntime,
    Duration convergeDeadline,
    Path output) {

  /** A fault injected at a fraction of the run. */
  record Fault(double at, FaultKind kind) {}

  /** What breaks. */
  enum FaultKind {
    /** SIGKILL: the control plane vanishes without closing anything, and a new one starts on its ports. */
    CONTROL_PLANE_KILL,
    /** SIGTERM: the control plane shuts down gracefully (a rolling update), and a new one starts. */
    CONTROL_PLANE_RESTART,
    /** The API server goes away and comes back with its state but an empty watch cache (410 Gone). */
    API_SERVER_RESTART
  }

  static SoakConfig fromSystemProperties() {
    BenchConfig bench = BenchConfig.fromSystemProperties();
    BenchConfig workload = bench.withScale(
        BenchConfig.integer("bench.nodes", 200),
        BenchConfig.integer("bench.pods", 6000),
        BenchConfig.integer("bench.services", 200),
        bench.upstreamsPerPod());
    return new SoakConfig(
        workload,
        Duration.ofSeconds(BenchConfig.integer("soak.seconds", 1800)),
        Double.parseDouble(System.getProperty("soak.changesPerSecond", "20")),
        BenchConfig.integer("soak.churnPods", 2 * workload.nodes()),
        BenchConfig.integer("soak.sotwEvery", 4),
        parseFaults(System.getProperty("soak.faults",
            "control-plane-kill@0.15 api-server-restart@0.5 control-plane-restart@0.85")),
        Duration.ofSeconds(BenchConfig.integer("soak.checkpointSeconds", 300)),
        Duration.ofSeconds(BenchConfig.integer("soak.sampleSeconds", 60)),
        Duration.ofSeconds(BenchConfig.integer("soak.apiOutageSeconds", 20)),
        Duration.ofSeconds(BenchConfig.integer("soak.downtimeSeconds", 5)),
        Duration.ofSeconds(BenchConfig.integer("soak.convergeSeconds", 180)),
        Paths.get(System.getProperty("soak.output", "target/soak")));
  }

  /** {@code kind@fraction ...}, e.g. {@code control-plane-kill@0.15 api-server-restart@0.5}. */
  static List<Fault> parseFaults(String text) {
    List<Fault> faults = new ArrayList<>();
    for (String part : BenchConfig.split(text.replace(',', ' '))) {
      String[] kindAndAt = part.split("@", 2);
      if (kindAndAt.length != 2) {
        throw new IllegalArgumentException("soak.faults: expected kind@fraction, got " + part);
      }
      FaultKind kind = FaultKind.valueOf(kindAndAt[0].toUpperCase(Locale.ROOT).replace('-', '_'));
      double at = Double.parseDouble(kindAndAt[1]);
      if (at <= 0 || at >= 1) {
        throw new IllegalArgumentException("soak.faults: the fraction must be in (0, 1): " + part);
      }
      faults.add(new Fault(at, kind));
    }
    faults.sort((a, b) -> Double.compare(a.at(), b.at()));
    return List.copyOf(faults);
  }

  /** Whether node {@code n}'s client speaks SotW. */
  boolean sotw(int node) {
    return sotwEvery > 0 && node % sotwEvery == 0;
  }

  String describe() {
    BenchConfig w = workload;
    return String.format(Locale.ROOT, "| nodes | %d |%n| pods (seeded) | %,d |%n| services | %d x 3 ports, %d upstreams "
            + "per app |%n| clients | one per node, %s |%n| churn | %.0f API writes/s for %d s, around %d churn pods |%n"
            + "| faults | %s |%n| checkpoints | every %s, after each fault, at the end |%n"
            + "| heap samples | every %d s (forced full GC) |%n| control plane | -Xmx%s %s |%n",
        w.nodes(), w.pods(), w.services(), w.upstreamsPerPod(),
        sotwEvery == 0 ? "all delta" : "SotW on one node in " + sotwEvery + ", delta on the rest",
        changesPerSecond, duration.toSeconds(), churnPods, faults.isEmpty() ? "none" : faults,
        checkpointEvery.isZero() ? "(off)" : checkpointEvery.toSeconds() + " s", sampleEvery.toSeconds(),
        w.nodemeshXmx(), String.join(" ", w.nodemeshFlags()));
  }
}
