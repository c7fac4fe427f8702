package io.nodemesh.security;

import com.google.common.net.InetAddresses;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.PodInfo;
import io.nodemesh.xds.ClientCredentials;
import java.net.InetAddress;
import java.util.Optional;

/**
 * Peer-address binding: a client may receive node N's view only if it connects from an address of N (an Envoy
 * with hostNetwork, or any connection the node masquerades) or from the IP of the pod on N whose name is the
 * client's {@code node.id} — the Envoy pod itself, which by default runs in its own network namespace — in
 * the Envoys' namespace. Loopback peers are the control plane's own pod and may be trusted for any node.
 *
 * <p>The check reads one node and the pods scheduled to it (tens) from an immutable model snapshot: no
 * cluster-wide index, nothing on the push path. Thread-safe (stateless).
 *
 * @param trustLoopback accept loopback peers (127.0.0.0/8, ::1) for any node
 * @param envoyNamespace the namespace of the Envoy pods ("" accepts a matching pod in any namespace)
 */
public record PeerBinding(boolean trustLoopback, String envoyNamespace) {

  /**
   * The outcome of the check.
   *
   * @param ok whether the peer is bound to the claimed node
   * @param label metric label
   * @param text how it matched, or why not
   */
  public record Result(boolean ok, String label, String text) {}

  public PeerBinding {
    envoyNamespace = envoyNamespace == null ? "" : envoyNamespace;
  }

  /** Whether {@code client}'s peer address belongs to the node it claims, in {@code state}. */
  public Result check(ClientCredentials client, ClusterState state) {
    String node = client.claimed().nodeName();
    String nodeId = client.claimed().nodeId();
    Optional<InetAddress> address = client.peerAddress();
    if (address.isEmpty()) {
      return new Result(false, "peer_unknown", "the connection has no IP address to bind to node " + node);
    }
    InetAddress peer = address.get();
    String ip = InetAddresses.toAddrString(peer);
    if (peer.isLoopbackAddress() && trustLoopback) {
      return new Result(true, "loopback", "loopback peer " + ip + " is trusted for any node (--trust-loopback-clients)");
    }
    Optional<NodeInfo> info = state.node(node);
    if (info.isPresent() && info.get().addresses().contains(ip)) {
      return new Result(true, "peer_node_address", "peer " + ip + " is an address of node " + node);
    }
    for (PodInfo pod : state.podsOnNode(node)) {
      if (pod.name().equals(nodeId)
          && (envoyNamespace.isEmpty() || pod.namespace().equals(envoyNamespace))
          && !pod.phase().terminal()
          && hasIp(pod, ip)) {
        return new Result(true, "peer_pod_ip",
            "peer " + ip + " is the IP of pod " + pod.namespace() + "/" + pod.name() + " on node " + node);
      }
    }
    if (info.isEmpty() && state.podsOnNode(node).isEmpty()) {
      return new Result(false, "unknown_node",
          "node " + node + " is not in the cluster, so peer " + ip + " cannot be bound to it");
    }
    String envoyPod = (envoyNamespace.isEmpty() ? "" : envoyNamespace + "/") + nodeId;
    return new Result(false, "peer_mismatch",
        "peer " + ip + " is neither an address of node " + node
            + info.map(n -> " " + n.addresses()).orElse(" (no addresses known)")
            + " nor the IP of pod " + envoyPod + " on that node");
  }

  private static boolean hasIp(PodInfo pod, String ip) {
    for (String podIp : pod.ips()) {
      if (podIp.equals(ip)
          || (InetAddresses.isInetAddress(podIp) && InetAddresses.toAddrString(InetAddresses.forString(podIp)).equals(ip))) {
        return true;
      }
    }
    return false;
  }
}
