package io.nodemesh.bench;

import io.grpc.Channel;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;

/** The benchmark's view of the test kit's clients: lean ones, and what a node's Envoy is expected to hold. */
final class BenchClients {

  private BenchClients() {}

  /** A lean client whose stream, once lost, stays lost (the benchmark counts that as an error). */
  static SimulatedEnvoy connect(Channel channel, String podName, String nodeName, boolean delta, boolean decodeAll,
      SimulatedEnvoy.Stats stats) {
    SimulatedEnvoy.Builder builder = SimulatedEnvoy.builder(channel, podName, nodeName).lean(decodeAll).stats(stats);
    return (delta ? builder : builder.sotw()).connect();
  }

  /**
   * A lean client that, like Envoy, keeps what it holds when its stream is lost and reopens the stream after a
   * jittered backoff: delta with {@code initial_resource_versions} of everything held, SotW with the last
   * version_info per type and the names it subscribes to.
   */
  static SimulatedEnvoy reconnecting(Channel channel, String podName, String nodeName, boolean delta,
      SimulatedEnvoy.Stats stats, ScheduledExecutorService reconnector) {
    SimulatedEnvoy.Builder builder = SimulatedEnvoy.builder(channel, podName, nodeName).lean(true).stats(stats)
        .reconnectWith(reconnector);
    return (delta ? builder : builder.sotw()).connect();
  }

  /** Holds exactly these listeners, at least these clusters, and every referenced EDS/RDS resource. */
  static boolean synced(SimulatedEnvoy envoy, Set<String> listeners, Set<String> clusters) {
    synchronized (envoy) {
      Set<String> heldListeners = envoy.namesView(SimulatedEnvoy.LDS);
      Set<String> heldClusters = envoy.namesView(SimulatedEnvoy.CDS);
      if (heldListeners.size() != listeners.size() || heldClusters.size() < clusters.size()) {
        return false; // cheap pre-check: this runs after every response while a node syncs
      }
      return heldListeners.equals(listeners) && heldClusters.containsAll(clusters) && envoy.referencesResolved();
    }
  }

  /**
   * Holds exactly these listeners, exactly these service-layer ({@code svc/...}, {@code dst/...}) clusters, and
   * every referenced EDS/RDS resource. Other clusters (passthrough) are not named by the expectation.
   */
  static boolean holdsExactly(SimulatedEnvoy envoy, Set<String> listeners, Set<String> serviceClusters) {
    synchronized (envoy) {
      return envoy.namesView(SimulatedEnvoy.LDS).equals(listeners) && envoy.referencesResolved()
          && serviceClustersHeld(envoy).equals(serviceClusters);
    }
  }

  /** What differs from {@link #holdsExactly}'s expectation, for a report. */
  static String differenceFrom(SimulatedEnvoy envoy, Set<String> listeners, Set<String> serviceClusters) {
    synchronized (envoy) {
      List<String> parts = new ArrayList<>();
      describeDifference("listeners", envoy.namesView(SimulatedEnvoy.LDS), listeners, parts);
      describeDifference("service clusters", serviceClustersHeld(envoy), serviceClusters, parts);
      for (String type : List.of(SimulatedEnvoy.EDS, SimulatedEnvoy.RDS)) {
        Set<String> unresolved = new TreeSet<>(envoy.subscribed(type));
        unresolved.removeAll(envoy.namesView(type));
        if (!unresolved.isEmpty()) {
          parts.add("unresolved " + type.substring(type.lastIndexOf('.') + 1) + " " + unresolved);
        }
      }
      parts.add(envoy.streaming() ? "streaming" : "not streaming (" + envoy.error() + ")");
      return String.join("; ", parts);
    }
  }

  private static Set<String> serviceClustersHeld(SimulatedEnvoy envoy) {
    Set<String> clusters = new TreeSet<>();
    for (String name : envoy.namesView(SimulatedEnvoy.CDS)) {
      if (name.startsWith("svc/") || name.startsWith("dst/")) {
        clusters.add(name);
      }
    }
    return clusters;
  }

  private static void describeDifference(String what, Set<String> held, Set<String> expected, List<String> parts) {
    Set<String> missing = new TreeSet<>(expected);
    missing.removeAll(held);
    Set<String> extra = new TreeSet<>(held);
    extra.removeAll(expected);
    if (!missing.isEmpty()) {
      parts.add("missing " + what + " " + missing);
    }
    if (!extra.isEmpty()) {
      parts.add("extra " + what + " " + extra);
    }
  }
}
