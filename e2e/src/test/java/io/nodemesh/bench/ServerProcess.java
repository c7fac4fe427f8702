package io.nodemesh.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A control plane (nodemesh's fat jar, or the baseline main class) running as its own JVM, measured from the
 * outside the same way for every target: CPU seconds from {@code /proc/<pid>/stat} (utime + stime, all threads,
 * including GC and JIT), heap from the unified GC log ({@code -Xlog:gc}: heap used before and after every
 * collection), retained heap from a full GC forced with {@code jcmd <pid> GC.run}, and an optional JFR
 * recording for the profile. Output goes to a log file in the bench directory.
 */
final class ServerProcess implements AutoCloseable {

  /** {@code GC(12) Pause Young (Normal) (G1 Evacuation Pause) 512M->128M(1024M) 12.345ms}. */
  private static final Pattern GC_LINE =
      Pattern.compile("GC\\((\\d+)\\) (Pause .*?) (\\d+)M->(\\d+)M\\((\\d+)M\\) ([\\d.]+)ms");
  private static final long CLOCK_TICKS = clockTicks();

  private final String name;
  private final Process process;
  private final Path log;
  private final Path gcLog;
  private final Path jfr;

  private ServerProcess(String name, Process process, Path log, Path gcLog, Path jfr) {
    this.name = name;
    this.process = process;
    this.log = log;
    this.gcLog = gcLog;
    this.jfr = jfr;
  }

  /**
   * Starts {@code java <jvmArgs> <mainArgs>} with Kubernetes access through fabric8's environment variables
   * (and nothing of the developer's kubeconfig); a null {@code kubernetesUrl} sets no API server, e.g. for
   * {@code --demo}, which brings its own.
   */
  static ServerProcess start(String name, Path dir, String xmx, boolean recordJfr, List<String> jvmArgs,
      List<String> mainArgs, String kubernetesUrl) throws IOException {
    Files.createDirectories(dir);
    Path log = dir.resolve(name + ".log");
    Path gcLog = dir.resolve(name + "-gc.log");
    Path jfr = recordJfr ? dir.resolve(name + ".jfr") : null;
    Files.deleteIfExists(gcLog);
    List<String> command = new ArrayList<>(List.of(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + xmx));
    command.addAll(jvmArgs.isEmpty() ? List.of("-XX:+UseG1GC") : jvmArgs);
    command.add("-Xlog:gc:file=" + gcLog.toAbsolutePath() + ":uptime,level,tags");
    if (jfr != null) {
      Files.deleteIfExists(jfr);
      command.add("-XX:StartFlightRecording=filename=" + jfr.toAbsolutePath() + ",settings=profile,dumponexit=true");
    }
    command.addAll(mainArgs);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
    Map<String, String> env = builder.environment();
    env.put("KUBECONFIG", "/nonexistent/kubeconfig");
    env.put("KUBERNETES_AUTH_TRYKUBECONFIG", "false");
    env.put("KUBERNETES_AUTH_TRYSERVICEACCOUNT", "false");
    if (kubernetesUrl != null) {
      env.put("KUBERNETES_MASTER", kubernetesUrl);
    }
    return new ServerProcess(name, builder.start(), log, gcLog, jfr);
  }

  String name() {
    return name;
  }

  long pid() {
    return process.pid();
  }

  Path jfrFile() {
    return jfr;
  }

  /** Waits for a log line matching {@code pattern} and returns its first group. */
  String awaitLog(Pattern pattern, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (String line : output()) {
        Matcher match = pattern.matcher(line);
        if (match.find()) {
          return match.group(1);
        }
      }
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see " + log);
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(name + " did not log " + pattern + " within " + timeout + "; see " + log);
  }

  List<String> output() {
    try {
      return Files.readAllLines(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** CPU seconds used by the process so far (user + system, every thread). */
  double cpuSeconds() {
    try {
      String stat = Files.readString(Paths.get("/proc", Long.toString(process.pid()), "stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // fields[0] is field 3 (state): utime is field 14, stime field 15
      long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
      return ticks / (double) CLOCK_TICKS;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Heap figures from the GC log so far. */
  record Heap(long peakUsedMb, long peakAfterGcMb, long committedMb, int pauses, double pauseSeconds,
      long lastFullGcAfterMb) {}

  Heap heap() {
    long peakBefore = 0;
    long peakAfter = 0;
    long committed = 0;
    int pauses = 0;
    double pauseMs = 0;
    long lastFull = -1;
    List<String> lines;
    try {
      lines = Files.exists(gcLog) ? Files.readAllLines(gcLog, StandardCharsets.UTF_8) : List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (String line : lines) {
      Matcher match = GC_LINE.matcher(line);
      if (!match.find()) {
        continue;
      }
      long before = Long.parseLong(match.group(3));
      long after = Long.parseLong(match.group(4));
      peakBefore = Math.max(peakBefore, before);
      committed = Math.max(committed, Long.parseLong(match.group(5)));
      pauses++;
      pauseMs += Double.parseDouble(match.group(6));
      if (match.group(2).startsWith("Pause Full")) {
        lastFull = after;
      } else {
        peakAfter = Math.max(peakAfter, after);
      }
    }
    return new Heap(peakBefore, peakAfter, committed, pauses, pauseMs / 1000, lastFull);
  }

  /**
   * Forces a full GC with {@code jcmd <pid> GC.class_histogram} (a live-object histogram collects first), keeps
   * the top of the histogram in {@code histogram}, and returns the heap in use after that GC (MB): what the
   * process really retains at this moment.
   */
  long retainedAfterFullGcMb(Path histogram) throws IOException, InterruptedException {
    int fullBefore = countFull();
    Process jcmd = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(process.pid()), "GC.class_histogram").redirectErrorStream(true).start();
    List<String> lines = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    jcmd.waitFor(60, TimeUnit.SECONDS);
    List<String> kept = new ArrayList<>(lines.subList(0, Math.min(lines.size(), 45)));
    if (lines.size() > 45 && lines.get(lines.size() - 1).startsWith("Total")) {
      kept.add(lines.get(lines.size() - 1)); // live bytes by object size, without the collector's region rounding
    }
    Files.write(histogram, kept);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (countFull() > fullBefore) {
        return heap().lastFullGcAfterMb();
      }
      Thread.sleep(100);
    }
    return -1;
  }

  private int countFull() throws IOException {
    if (!Files.exists(gcLog)) {
      return 0;
    }
    int count = 0;
    for (String line : Files.readAllLines(gcLog, StandardCharsets.UTF_8)) {
      if (line.contains("Pause Full")) {
        count++;
      }
    }
    return count;
  }

  /** SIGTERM, then wait (the JFR recording is written on exit). */
  void stop(Duration timeout) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }

  boolean isAlive() {
    return process.isAlive();
  }

  Path logFile() {
    return log;
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
  }

  private static long clockTicks() {
    try {
      Process getconf = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(getconf.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      getconf.waitFor(5, TimeUnit.SECONDS);
      return Long.parseLong(out);
    } catch (IOException | RuntimeException e) {
      return 100;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 100;
    }
  }

  /** The 1-minute load average of the machine. */
  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Paths.get("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** CPU seconds of this JVM (the harness: mock API server and simulated Envoys). */
  static double ownCpuSeconds() {
    java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      return sun.getProcessCpuTime() / 1e9;
    }
    return -1;
  }
}
