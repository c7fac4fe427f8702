package io.nodemesh.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where the CPU went, from a JFR recording's {@code jdk.ExecutionSample} events (what {@code jfr print --events
 * jdk.ExecutionSample} shows, aggregated): samples per thread group, the hottest top frames (self time), and
 * the hottest methods of chosen packages counted inclusively (a sample counts for a method anywhere on its
 * stack), which reads as "share of CPU spent in or below this method".
 */
final class JfrSummary {

  private static final Pattern DIGITS = Pattern.compile("\\d+");

  private JfrSummary() {}

  /**
   * {@code java -cp e2e/target/test-classes io.nodemesh.bench.JfrSummary <recording.jfr> [thread-name-prefix]}:
   * the summary of any recording, optionally of one thread group only.
   */
  public static void main(String[] args) throws IOException {
    System.out.print(summarize(Path.of(args[0]), List.of("io.nodemesh.", "io.envoyproxy.controlplane.",
        "com.google.protobuf."), 40, args.length > 1 ? args[1] : ""));
  }

  static String summarize(Path recording, List<String> inclusivePrefixes, int top) throws IOException {
    return summarize(recording, inclusivePrefixes, top, "");
  }

  static String summarize(Path recording, List<String> inclusivePrefixes, int top, String threadPrefix)
      throws IOException {
    return summarize(recording, inclusivePrefixes, top, threadPrefix, java.time.Instant.MIN, java.time.Instant.MAX);
  }

  /** Only the samples taken between {@code from} and {@code to} (a benchmark phase). */
  static String summarize(Path recording, List<String> inclusivePrefixes, int top, String threadPrefix,
      java.time.Instant from, java.time.Instant to) throws IOException {
    Map<String, Integer> byThread = new HashMap<>();
    Map<String, Integer> selfFrames = new HashMap<>();
    Map<String, Integer> inclusive = new HashMap<>();
    int total = 0;
    try (RecordingFile file = new RecordingFile(recording)) {
      while (file.hasMoreEvents()) {
        RecordedEvent event = file.readEvent();
        if (!event.getEventType().getName().equals("jdk.ExecutionSample")) {
          continue;
        }
        if (event.getStartTime().isBefore(from) || event.getStartTime().isAfter(to)) {
          continue;
        }
        RecordedStackTrace stack = event.getStackTrace();
        if (stack == null || stack.getFrames().isEmpty()) {
          continue;
        }
        String thread = event.getThread("sampledThread") == null ? "?" : event.getThread("sampledThread").getJavaName();
        if (!threadPrefix.isEmpty() && (thread == null || !thread.startsWith(threadPrefix))) {
          continue;
        }
        total++;
        byThread.merge(thread == null ? "?" : DIGITS.matcher(thread).replaceAll("N"), 1, Integer::sum);
        List<RecordedFrame> frames = stack.getFrames();
        selfFrames.merge(method(frames.get(0)), 1, Integer::sum);
        Set<String> seen = new HashSet<>();
        for (RecordedFrame frame : frames) {
          String method = method(frame);
          for (String prefix : inclusivePrefixes) {
            if (method.startsWith(prefix) && seen.add(method)) {
              inclusive.merge(method, 1, Integer::sum);
            }
          }
        }
      }
    }
    StringBuilder out = new StringBuilder();
    out.append("execution samples: ").append(total).append('\n');
    append(out, "samples by thread", byThread, total, top);
    append(out, "top frames (self)", selfFrames, total, top);
    append(out, "inclusive, " + String.join(", ", inclusivePrefixes), inclusive, total, top);
    return out.toString();
  }

  private static String method(RecordedFrame frame) {
    if (frame.getMethod() == null) {
      return "?";
    }
    return frame.getMethod().getType().getName() + "." + frame.getMethod().getName();
  }

  private static void append(StringBuilder out, String title, Map<String, Integer> counts, int total, int top) {
    out.append("\n").append(title).append(":\n");
    Map<String, Integer> sorted = new LinkedHashMap<>();
    counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(top)
        .forEach(e -> sorted.put(e.getKey(), e.getValue()));
    sorted.forEach((name, count) ->
        out.append(String.format("  %5.1f%%  %6d  %s%n", 100.0 * count / Math.max(1, total), count, name)));
  }
}
