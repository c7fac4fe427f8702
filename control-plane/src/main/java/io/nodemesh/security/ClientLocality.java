package io.nodemesh.security;

import com.google.common.collect.ImmutableList;
import com.google.common.net.InetAddresses;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.PodInfo;
import io.nodemesh.translate.NodeLocality;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.Authorization;
import java.net.InetAddress;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Where a client that claims no node runs (a proxyless gRPC client), from what it proved, never from the locality
 * it claims: the node of the pod its token is bound to, or of the pod (or node) whose IP it connects from. That
 * node's trafficDistribution variants are then served under the names the client asks for
 * ({@link Authorization#localPrefixes()}). Stateless.
 */
final class ClientLocality {

  private ClientLocality() {}

  /**
   * {@code decision} for a client on {@code node} ({@code how}: what placed it there), with the listener prefixes of
   * that node and its zone; unchanged but for a note when the node is unknown or not in the cluster state.
   */
  static Authorization at(Authorization decision, ClusterState state, Optional<String> node, String how) {
    if (node.isEmpty()) {
      return decision.withLocality(ImmutableList.of(), "no locality: " + how);
    }
    NodeLocality where = NodeLocality.of(state, node.get());
    if (where.node().isEmpty()) {
      return decision.withLocality(ImmutableList.of(),
          "no locality: node " + node.get() + " (" + how + ") is not in the cluster state");
    }
    return decision.withLocality(ResourceNames.proxylessVariantPrefixes(where), "locality node " + node.get()
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
    return state.nodes().values().stream()
        .filter(node -> node.addresses().contains(ip))
        .map(NodeInfo::name)
        .findFirst();
  }

  /** What {@link #nodeOfPeer} relied on, for the authorization's reason. */
  static String peerNote(Optional<InetAddress> peer) {
    return "the pod or node with peer address " + peer.map(InetAddresses::toAddrString).orElse("(none)");
  }
}
