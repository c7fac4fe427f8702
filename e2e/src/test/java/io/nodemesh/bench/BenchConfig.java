package io.nodemesh.bench;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The benchmark's knobs, read from {@code -Dbench.*} system properties (Maven passes {@code -D} user
 * properties through to the forked JVM). Every default is the ARCHITECTURE.md §10 scale except where noted.
 */
record BenchConfig(
    int nodes,
    int pods,
    int services,
    int upstreamsPerPod,
    boolean delta,
    boolean decodeAll,
    int channels,
    int seedThreads,
    int churnPerSecond,
    Duration churnDuration,
    Duration churnWarmup,
    int flaps,
    int serviceChanges,
    int popularServiceChanges,
    boolean baseline,
    String nodemeshXmx,
    String baselineXmx,
    boolean jfr,
    List<String> nodemeshFlags,
    List<String> jvmArgs,
    Duration eventDeadline,
    Duration coldStartDeadline,
    Duration startupDeadline,
    Set<String> phases,
    Path output) {

  static BenchConfig fromSystemProperties() {
    BenchConfig config = new BenchConfig(
        integer("bench.nodes", 1000),
        integer("bench.pods", 30_000),
        integer("bench.services", 1000),
        integer("bench.upstreams", 0),
        !"sotw".equalsIgnoreCase(System.getProperty("bench.protocol", "delta")),
        !"references".equalsIgnoreCase(System.getProperty("bench.decode", "all")),
        integer("bench.channels", 0),
        integer("bench.seedThreads", 8),
        integer("bench.churnPerSecond", 100),
        Duration.ofSeconds(integer("bench.churnSeconds", 30)),
        Duration.ofSeconds(integer("bench.churnWarmupSeconds", 5)),
        integer("bench.flaps", 20),
        integer("bench.serviceChanges", 4),
        integer("bench.popularServiceChanges", 2),
        Boolean.parseBoolean(System.getProperty("bench.baseline", "true")),
        System.getProperty("bench.nodemeshXmx", "1g"),
        System.getProperty("bench.baselineXmx", "8g"),
        Boolean.parseBoolean(System.getProperty("bench.jfr", "true")),
        split(System.getProperty("bench.nodemeshFlags", "")),
        split(System.getProperty("bench.jvmArgs", "")),
        Duration.ofSeconds(integer("bench.eventDeadlineSeconds", 120)),
        Duration.ofSeconds(integer("bench.coldStartDeadlineSeconds", 600)),
        Duration.ofSeconds(integer("bench.startupDeadlineSeconds", 600)),
        Set.copyOf(split(System.getProperty("bench.phases", "churn flaps services").replace(',', ' '))),
        Paths.get(System.getProperty("bench.output", "target/bench")));
    if (config.pods < config.nodes) {
      throw new IllegalArgumentException("bench.pods must be >= bench.nodes (every node gets a pod)");
    }
    if (config.services < 2 || config.upstreamsPerPod < 0 || config.upstreamsPerPod > config.services) {
      throw new IllegalArgumentException("need bench.services >= 2 and 0 <= bench.upstreams <= bench.services");
    }
    return config;
  }

  /** This configuration at another scale (the soak's defaults and its short CI run use their own). */
  BenchConfig withScale(int nodes, int pods, int services, int upstreamsPerPod) {
    return new BenchConfig(nodes, pods, services, upstreamsPerPod, delta, decodeAll, channels, seedThreads,
        churnPerSecond, churnDuration, churnWarmup, flaps, serviceChanges, popularServiceChanges, baseline,
        nodemeshXmx, baselineXmx, jfr, nodemeshFlags, jvmArgs, eventDeadline, coldStartDeadline, startupDeadline,
        phases, output);
  }

  /** Whether pods carry {@code nodemesh.io/upstreams} (bench.upstreams > 0); unscoped is what users deploy. */
  boolean scoped() {
    return upstreamsPerPod > 0;
  }

  /**
   * gRPC connections from the simulated Envoys: bench.channels, or one per Envoy (as nodes connect) when 0.
   * They cost a socket each, not threads: grpc-netty gives every channel built without its own event loop
   * group one shared default worker group.
   */
  int channelCount() {
    return channels == 0 ? nodes : Math.min(channels, nodes);
  }

  String protocol() {
    return delta ? "delta" : "sotw";
  }

  /** Namespaces: one per 100 services (at least one). */
  int namespaces() {
    return Math.max(1, services / 100);
  }

  Map<String, Object> describe() {
    Map<String, Object> all = new LinkedHashMap<>();
    all.put("nodes", nodes);
    all.put("pods", pods);
    all.put("services", services + " x 3 ports (grpc, http, tcp)");
    all.put("namespaces", namespaces());
    all.put("upstreams per pod (nodemesh.io/upstreams)", scoped()
        ? upstreamsPerPod + " services, one of them svc-0 (called by every pod)"
        : "unscoped: no annotation, every pod may call every service (bench.upstreams=6 for the scoped scenario)");
    all.put("service CIDR (--service-cidrs, every target)", Workload.SERVICE_CIDR);
    all.put("protocol", protocol());
    all.put("client connections", channels == 0 ? "one per Envoy (" + nodes + ")"
        : channelCount() + " shared by " + nodes + " Envoys (bench.channels)");
    all.put("client decoding", decodeAll ? "every resource (as Envoy)"
        : "clusters and listeners only (bench.decode=references)");
    all.put("pod churn", churnPerSecond + " changes/s (Poisson arrivals) for " + churnDuration.toSeconds()
        + " s after " + churnWarmup.toSeconds() + " s unmeasured warm-up (half adds, half deletes; each pod is an"
        + " endpoint of its app's service)");
    all.put("endpoint flaps", flaps + " on svc-0 (every node)");
    all.put("service changes", serviceChanges + " on one-team services + " + popularServiceChanges + " on svc-0");
    all.put("nodemesh heap (-Xmx)", nodemeshXmx);
    all.put("baselines' heap (-Xmx)", baseline ? baselineXmx : "baselines off");
    all.put("phases after cold start", String.join(" ", new java.util.TreeSet<>(phases)));
    all.put("control plane JVM flags (every target)", jvmArgs.isEmpty() ? "-XX:+UseG1GC (default)" : String.join(" ", jvmArgs));
    all.put("nodemesh flags", nodemeshFlags.isEmpty() ? "(defaults)" : String.join(" ", nodemeshFlags));
    return all;
  }

  static int integer(String name, int fallback) {
    String value = System.getProperty(name);
    return value == null || value.isBlank() ? fallback : Integer.parseInt(value.trim().replace("_", ""));
  }

  static List<String> split(String value) {
    List<String> parts = new ArrayList<>();
    for (String part : value.trim().split("\\s+")) {
      if (!part.isEmpty()) {
        parts.add(part);
      }
    }
    return parts;
  }
}
