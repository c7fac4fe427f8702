package io.nodemesh.security;

import com.google.common.collect.ImmutableList;
import com.google.common.net.InetAddresses;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.PodInfo;
import io.nodemesh.translate.NodeLocality;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.Authorization;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Where a client that claims no node runs (a proxyless gRPC client), from what it proved, never from the locality
 * it claims: the node of the pod its token is bound to, or of the pod (or node) whose IP it connects from. That
 * node's trafficDistribution variants are then served under the names the client asks for
 * ({@link Authorization#localPrefixes()}).
 *
 * <p>A client often connects before the cluster state shows its pod (the kubelet reports a pod's IP about when its
 * containers start): then it is looked for again every {@value #RECHECK_MILLIS} ms for up to {@code wait}
 * ({@code --proxyless-placement-wait}) before it is admitted without a locality, which it keeps for its stream.
 * Thread-safe; the looks run on the JDK's delayed executor, each a few map look-ups.
 */
final class ClientLocality {

  static final long RECHECK_MILLIS = 100;

  private final Supplier<ClusterState> state;
  private final Duration wait;

  ClientLocality(Supplier<ClusterState> state, Duration wait) {
    this.state = Objects.requireNonNull(state, "state");
    this.wait = Objects.requireNonNull(wait, "wait");
  }

  /**
   * {@code decision} with the locality of the node {@code node} finds in the current state ({@code how}: what placed
   * the client there); while it finds none, looked for again until {@code wait} passed, when the client may yet
   * appear ({@code mayAppear}). Without a locality the decision only gains a note saying why.
   */
  CompletableFuture<Authorization> place(Authorization decision, Function<ClusterState, Optional<String>> node,
      String how, boolean mayAppear) {
    Authorization now = locate(decision, node, how, "");
    if (placed(now) || !mayAppear || wait.isZero()) {
      return CompletableFuture.completedFuture(now);
    }
    CompletableFuture<Authorization> result = new CompletableFuture<>();
    lookAgain(result, decision, node, how, System.nanoTime() + wait.toNanos());
    return result;
  }

  private void lookAgain(CompletableFuture<Authorization> result, Authorization decision,
      Function<ClusterState, Optional<String>> node, String how, long deadlineNanos) {
    CompletableFuture.delayedExecutor(RECHECK_MILLIS, TimeUnit.MILLISECONDS).execute(() -> {
      if (result.isDone()) {
        return; // the stream closed meanwhile
      }
      try {
        boolean last = System.nanoTime() >= deadlineNanos;
        Authorization now = locate(decision, node, how, last ? " after waiting " + wait.toMillis() + " ms" : "");
        if (placed(now) || last) {
          result.complete(now);
        } else {
          lookAgain(result, decision, node, how, deadlineNanos);
        }
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
  }

  private static boolean placed(Authorization decision) {
    return !decision.localPrefixes().isEmpty();
  }

  /**
   * {@code decision} with the locality of the node {@code node} finds in the current state, or with a note saying
   * why there is none ({@code waited}: how long it was looked for).
   */
  private Authorization locate(Authorization decision, Function<ClusterState, Optional<String>> node, String how,
      String waited) {
    ClusterState current = state.get();
    Optional<String> found = node.apply(current);
    if (found.isEmpty()) {
      return decision.withLocality(ImmutableList.of(), "no locality" + waited + ": " + how);
    }
    NodeLocality where = NodeLocality.of(current, found.get());
    if (where.node().isEmpty()) {
      return decision.withLocality(ImmutableList.of(), "no locality" + waited + ": node " + found.get() + " (" + how
          + ") is not in the cluster state");
    }
    return decision.withLocality(ResourceNames.proxylessVariantPrefixes(where), "locality node " + found.get()
        + where.zone().map(zone -> ", zone " + zone).orElse(", no zone") + " (" + how + ")");
  }

  /**
   * The node a peer connects from: the node of the running pods that hold its IP, else the node that has it as an
   * address; empty for an address no pod or node holds (loopback: the control plane's own pod), or one that pods on
   * several nodes hold.
   */
  static Optional<String> nodeOfPeer(ClusterState state, Optional<InetAddress> peer) {
    if (peer.isEmpty()) {
      return Optional.empty();
    }
    String ip = InetAddresses.toAddrString(peer.get());
    Set<String> podNodes = state.podsWithIp(ip).stream()
        .filter(pod -> !pod.phase().terminal())
        .map(PodInfo::nodeName)
        .flatMap(Optional::stream)
        .collect(Collectors.toSet());
    if (!podNodes.isEmpty()) {
      return podNodes.size() == 1 ? Optional.of(podNodes.iterator().next()) : Optional.empty();
    }
    return state.nodeWithAddress(ip);
  }

  /** What {@link #nodeOfPeer} relied on, for the authorization's reason. */
  static String peerNote(Optional<InetAddress> peer) {
    return "the pod or node with peer address " + peer.map(InetAddresses::toAddrString).orElse("(none)");
  }
}
