package io.nodemesh.e2e;

import static io.nodemesh.e2e.EnvoyResources.syncClient;
import static io.nodemesh.e2e.MockKubernetes.ready;
import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static io.nodemesh.e2e.MockKubernetes.terminating;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.nodemesh.testkit.GrpcBackends;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A "Deployment" of real gRPC servers (pods on 127.0.0.11-15) behind a Service, called by grpc-java's own
 * proxyless xDS client through the control plane: RPCs spread over every replica after a scale-up and keep
 * succeeding through a scale-down. The test plays the Deployment and EndpointSlice controllers.
 */
class ProxylessGrpcIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final String TARGET = "greeter.apps.svc.cluster.local:8080";
  private static final int REPLICAS = 5;
  /** Generous bound on the longest run of failing RPCs during a scale-down (typically zero). */
  private static final Duration MAX_FAILURE_STREAK = Duration.ofSeconds(5);

  private static final ConvergenceLog convergence = new ConvergenceLog("ProxylessGrpcIT");
  private static MockKubernetes k8s;
  private static ControlPlaneProcess plane;
  private static final List<Server> backends = new ArrayList<>();
  private static int backendPort;

  @BeforeAll
  static void start() throws Exception {
    k8s = MockKubernetes.withTwoNodes("apps");
    // every replica listens on the same port (the slice has one port), each on its own pod IP
    Server first = GrpcBackends.start(ip(0), 0, pod(0));
    backends.add(first);
    backendPort = first.getPort();
    for (int i = 1; i < REPLICAS; i++) {
      backends.add(GrpcBackends.start(ip(i), backendPort, pod(i)));
    }
    k8s.service("apps", "greeter", "10.96.1.10", List.of(servicePort("grpc", 8080, backendPort, "grpc")));
    k8s.pod("apps", pod(0), node(0), ip(0), "greeter");
    k8s.endpoints("apps", "greeter", "grpc", backendPort, List.of(ready(ip(0), node(0))));
    plane = ControlPlaneProcess.start("proxyless", k8s.url()).awaitReady(STARTUP);
  }

  @AfterAll
  static void stop() throws Exception {
    convergence.printSummary();
    for (Server backend : backends) {
      backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (plane != null) {
      plane.close();
    }
    if (k8s != null) {
      k8s.close();
    }
  }

  private static String pod(int i) {
    return "greeter-" + i;
  }

  private static String ip(int i) {
    return "127.0.0." + (11 + i);
  }

  private static String node(int i) {
    return i % 2 == 0 ? "node-1" : "node-2";
  }

  private static void writeSlice(int readyReplicas, int terminatingReplicas) {
    List<Endpoint> endpoints = new ArrayList<>();
    for (int i = 0; i < readyReplicas; i++) {
      endpoints.add(ready(ip(i), node(i)));
    }
    for (int i = readyReplicas; i < readyReplicas + terminatingReplicas; i++) {
      endpoints.add(terminating(ip(i), node(i)));
    }
    k8s.endpoints("apps", "greeter", "grpc", backendPort, endpoints);
  }

  @Test
  void proxylessRpcsSpreadOverAllFiveReplicasAfterAScaleUpAndKeepSucceedingThroughAScaleDown() throws Exception {
    ManagedChannel channel = GrpcBackends.proxylessChannel(TARGET, plane.xdsPort(), "proxyless-greeter-client");
    ScheduledExecutorService load = Executors.newSingleThreadScheduledExecutor();
    RpcRecorder rpcs = new RpcRecorder();
    try {
      long connecting = System.nanoTime();
      assertThat(GrpcBackends.ask(channel, 20_000, true)).isEqualTo(pod(0));
      convergence.recordUntilNow("proxyless", "channel created -> first RPC answered (LDS/RDS/CDS/EDS)", connecting);
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        JsonNode client = syncClient(plane.json("/debug/syncz"), "proxyless-greeter-client");
        assertThat(client.path("kind").asText()).isEqualTo("proxyless");
        assertThat(client.path("types")).hasSize(4)
            .allSatisfy(type -> assertThat(type.path("state").asText()).isEqualTo("SYNCED"));
      });

      // a steady stream of RPCs, as a client under load sends them (~200/s, each with its own deadline)
      load.scheduleAtFixedRate(() -> rpcs.call(channel), 0, 5, TimeUnit.MILLISECONDS);
      await().atMost(Duration.ofSeconds(10)).until(() -> rpcs.successesSince(0) >= 20);
      assertThat(rpcs.backendsSince(0)).containsOnlyKeys(pod(0));

      // scale up 1 -> 5: pods come up and become ready, the slice controller lists them
      for (int i = 1; i < REPLICAS; i++) {
        k8s.pendingPod("apps", pod(i), node(i), "greeter");
        k8s.podRunning("apps", pod(i), ip(i));
      }
      long scaledUp = System.nanoTime();
      writeSlice(REPLICAS, 0);
      await().atMost(Duration.ofSeconds(30)).until(() -> rpcs.backendsSince(scaledUp).size() == REPLICAS);
      convergence.record("scale 1->5", "slice written -> RPCs answered by all 5 replicas", scaledUp,
          rpcs.lastFirstAnswerSince(scaledUp));
      long spread = System.nanoTime();
      await().atMost(Duration.ofSeconds(30)).until(() -> rpcs.successesSince(spread) >= 250);
      Map<String, Integer> share = rpcs.backendsSince(spread);
      System.out.println("[proxyless] RPCs per replica after the scale-up: " + share);
      assertThat(share).hasSize(REPLICAS).allSatisfy((pod, count) -> assertThat(count).isGreaterThanOrEqualTo(5));

      // scale down 5 -> 1: four pods terminate (the slice marks them) and their servers stop at once, while
      // the endpoints change: two shut down gracefully (SIGTERM), two are killed with RPCs in flight
      long scaledDown = System.nanoTime();
      long scaledDownWallMillis = System.currentTimeMillis();
      for (int i = 1; i < REPLICAS; i++) {
        k8s.terminatePod("apps", pod(i));
      }
      writeSlice(1, REPLICAS - 1);
      backends.get(1).shutdown();
      backends.get(2).shutdown();
      backends.get(3).shutdownNow();
      backends.get(4).shutdownNow();
      await().atMost(Duration.ofSeconds(30)).until(() -> rpcs.lastSuccessOutside(pod(0)) < rpcs.newestStart()
          && rpcs.successesAfter(rpcs.lastSuccessOutside(pod(0))) >= 100);
      convergence.record("scale 5->1", "slice written -> last RPC on a removed replica", scaledDown,
          Math.max(scaledDown, rpcs.lastSuccessOutside(pod(0))));
      // the client holds (and ACKed) endpoints without the terminating replicas
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        JsonNode eds = EnvoyResources.syncType(syncClient(plane.json("/debug/syncz"), "proxyless-greeter-client"),
            SimulatedEnvoy.EDS);
        assertThat(eds.path("state").asText()).isEqualTo("SYNCED");
        assertThat(Instant.parse(eds.path("last_ack").asText()).toEpochMilli()).isGreaterThan(scaledDownWallMillis);
      });
      for (int i = 1; i < REPLICAS; i++) {
        k8s.deletePod("apps", pod(i));
      }
      writeSlice(1, 0);
      long settled = System.nanoTime();
      await().atMost(Duration.ofSeconds(10)).until(() -> rpcs.successesSince(settled) >= 50);
      assertThat(rpcs.backendsSince(settled)).containsOnlyKeys(pod(0));
    } finally {
      load.shutdownNow();
      load.awaitTermination(10, TimeUnit.SECONDS);
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    Duration streak = rpcs.longestFailureStreak();
    System.out.printf("[proxyless] %d RPCs, %d failed %s, longest failure streak %d ms%n", rpcs.total(),
        rpcs.failures(), rpcs.failureCodes(), streak.toMillis());
    assertThat(streak).isLessThanOrEqualTo(MAX_FAILURE_STREAK);
  }

  /** Every RPC's start, end and outcome, in start order (one caller thread). Thread-safe. */
  private static final class RpcRecorder {
    private record Rpc(long startNanos, long endNanos, String backend, Status.Code failure) {}

    private final List<Rpc> rpcs = new ArrayList<>();

    void call(ManagedChannel channel) {
      long start = System.nanoTime();
      String backend = null;
      Status.Code failure = null;
      try {
        backend = GrpcBackends.ask(channel, 1_000, false);
      } catch (RuntimeException e) {
        failure = Status.fromThrowable(e).getCode();
      }
      synchronized (this) {
        rpcs.add(new Rpc(start, System.nanoTime(), backend, failure));
      }
    }

    synchronized int total() {
      return rpcs.size();
    }

    synchronized long failures() {
      return rpcs.stream().filter(r -> r.failure() != null).count();
    }

    synchronized Map<Status.Code, Long> failureCodes() {
      Map<Status.Code, Long> codes = new TreeMap<>();
      rpcs.stream().filter(r -> r.failure() != null).forEach(r -> codes.merge(r.failure(), 1L, Long::sum));
      return codes;
    }

    synchronized long successesSince(long nanos) {
      return rpcs.stream().filter(r -> r.startNanos() >= nanos && r.backend() != null).count();
    }

    synchronized long successesAfter(long nanos) {
      return rpcs.stream().filter(r -> r.startNanos() > nanos && r.backend() != null).count();
    }

    /** Successful RPCs per backend among those started at or after {@code nanos}. */
    synchronized Map<String, Integer> backendsSince(long nanos) {
      Map<String, Integer> counts = new LinkedHashMap<>();
      rpcs.stream().filter(r -> r.startNanos() >= nanos && r.backend() != null)
          .forEach(r -> counts.merge(r.backend(), 1, Integer::sum));
      return counts;
    }

    /** When the last backend to answer for the first time since {@code nanos} answered. */
    synchronized long lastFirstAnswerSince(long nanos) {
      Map<String, Long> first = new LinkedHashMap<>();
      rpcs.stream().filter(r -> r.startNanos() >= nanos && r.backend() != null)
          .forEach(r -> first.putIfAbsent(r.backend(), r.endNanos()));
      return first.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    }

    /** Start of the last successful RPC answered by a backend other than {@code kept} (0 if none). */
    synchronized long lastSuccessOutside(String kept) {
      long last = 0;
      for (Rpc rpc : rpcs) {
        if (rpc.backend() != null && !rpc.backend().equals(kept)) {
          last = Math.max(last, rpc.startNanos());
        }
      }
      return last;
    }

    synchronized long newestStart() {
      return rpcs.isEmpty() ? 0 : rpcs.get(rpcs.size() - 1).startNanos();
    }

    /** The longest time from a failing RPC's start to the next successful RPC's start. */
    synchronized Duration longestFailureStreak() {
      long longest = 0;
      Long streakStart = null;
      for (Rpc rpc : rpcs) {
        if (rpc.failure() != null) {
          if (streakStart == null) {
            streakStart = rpc.startNanos();
          }
        } else if (streakStart != null) {
          longest = Math.max(longest, rpc.startNanos() - streakStart);
          streakStart = null;
        }
      }
      if (streakStart != null) {
        longest = Math.max(longest, rpcs.get(rpcs.size() - 1).endNanos() - streakStart);
      }
      return Duration.ofNanos(longest);
    }
  }
}
