package io.nodemesh.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The benchmark (ARCHITECTURE.md §10, docs/BENCHMARKS.md). Runs only in the {@code bench} Maven profile:
 * <pre>
 *   mvn -Pbench -pl e2e -am verify -DskipTests -Dbench.nodes=1000 -Dbench.pods=30000 -Dbench.services=1000
 * </pre>
 * Seeds a fabric8 mock API with the workload, then runs nodemesh (its fat jar, as a process) and the two
 * java-control-plane baselines (SimpleCache + V3DiscoveryServer, as processes: tuned and naive, see
 * {@link BaselineControlPlane}) through the same phases with the same simulated Envoys, and prints one table
 * with a column per target and the ratio of the tuned baseline to nodemesh. {@code -Dbench.targets} picks
 * and orders the targets (default {@code nodemesh,tuned,naive}). The report goes
 * to {@code e2e/target/bench/report.md}, with process logs, GC logs, JFR recordings and profile summaries.
 * It measures and reports; it fails only when the harness itself breaks (a process dies, a deadline is hit
 * everywhere), never on a number.
 */
class NodemeshBenchmark {

  @Test
  void nodemeshAgainstTheJavaControlPlaneBaselines() throws Exception {
    BenchConfig config = BenchConfig.fromSystemProperties();
    Path out = config.output();
    Files.createDirectories(out);
    StringBuilder report = new StringBuilder();
    int cores = Runtime.getRuntime().availableProcessors();
    report.append("# nodemesh benchmark run\n\n")
        .append(String.format(Locale.ROOT, "%s; %d cores; %.1f GiB RAM; %s %s; load average at start %.2f%n%n",
            Instant.now(), cores, totalMemoryGib(), System.getProperty("java.vm.name"),
            System.getProperty("java.version"), ServerProcess.loadAverage()));
    report.append("| setting | value |\n|---|---|\n");
    for (Map.Entry<String, Object> entry : config.describe().entrySet()) {
      report.append("| ").append(entry.getKey()).append(" | ").append(entry.getValue()).append(" |\n");
    }
    BenchRun.log("config: %s", config.describe());

    try (FastMockKubernetes k8s = FastMockKubernetes.start();
        KubernetesClient client = FastMockKubernetes.bulkClient(k8s.url())) {
      Workload workload = new Workload(config);
      BenchRun.log("seeding the mock API server (%d threads)", config.seedThreads());
      Workload.SeedTimes seed = workload.seed(client);
      BenchRun.log("seeded %d objects in %.1f s (namespaces+nodes+services %.1f s, slices %.1f s, pods %.1f s)",
          seed.objects(), seed.totalSeconds(), seed.namespacesNodesServicesSeconds(), seed.slicesSeconds(),
          seed.podsSeconds());
      report.append(String.format(Locale.ROOT, "| seeding the mock API | %,d objects in %.1f s (pods: %.1f s, "
          + "%.2f ms per pod with %d writer threads) |%n", seed.objects(), seed.totalSeconds(), seed.podsSeconds(),
          seed.podsSeconds() * 1000 / config.pods(), config.seedThreads()));

      if (!targets(config).isEmpty() && Boolean.parseBoolean(System.getProperty("bench.harnessWarmup", "true"))) {
        new BenchRun(config, workload, client, k8s.url(), BenchRun.Target.WARMUP).warmUpHarness();
      }
      List<Results> runs = new ArrayList<>();
      List<String> profiles = new ArrayList<>();
      List<BenchRun.Target> targets = targets(config);
      for (BenchRun.Target target : targets) {
        BenchRun run = new BenchRun(config, workload, client, k8s.url(), target);
        runs.add(run.execute());
        profiles.add("### " + target.label + "\n\n```\n" + run.jfrSummary + "```\n");
        writeReport(out, report, runs, profiles);
      }
      String table = table(runs);
      System.out.println("\n" + table);
      writeReport(out, report, runs, profiles);
    }
  }

  private static List<BenchRun.Target> targets(BenchConfig config) {
    List<BenchRun.Target> targets = new ArrayList<>();
    for (String name : System.getProperty("bench.targets", "nodemesh,tuned,naive").split(",")) {
      BenchRun.Target target = BenchRun.Target.valueOf(name.trim().toUpperCase(Locale.ROOT));
      if (target.flavor == null || config.baseline()) {
        targets.add(target);
      }
    }
    return targets;
  }

  private static void writeReport(Path out, StringBuilder header, List<Results> runs, List<String> profiles)
      throws Exception {
    String text = header + "\n## Results\n\n" + table(runs) + "\n## Profiles (JFR execution samples)\n\n"
        + String.join("\n", profiles);
    Files.writeString(out.resolve("report.md"), text);
  }

  /** The results table, with ratios quoted against the tuned baseline. */
  private static String table(List<Results> runs) {
    return Results.table(runs, BenchRun.Target.TUNED.label);
  }

  private static double totalMemoryGib() {
    java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      return sun.getTotalMemorySize() / (1024.0 * 1024 * 1024);
    }
    return -1;
  }
}
