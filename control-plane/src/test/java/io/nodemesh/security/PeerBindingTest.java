package io.nodemesh.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.xds.ClientCredentials;
import io.nodemesh.xds.NodeIdentity;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The peer check on its own: address forms, pod lifecycle and the Envoy namespace. */
class PeerBindingTest {

  private static final ClusterState STATE = ClusterState.builder(MeshOptions.DEFAULTS)
      .putNode(new NodeInfo("w1", Optional.empty(), Optional.empty(), true, ImmutableList.of("fd00::a", "10.0.0.1")))
      .putPod(pod("nodemesh-system", "envoy-old", PodPhase.SUCCEEDED, "10.244.0.9"))
      .putPod(pod("nodemesh-system", "envoy-v6", PodPhase.RUNNING, "fd00:244::7"))
      .build();

  private static PodInfo pod(String namespace, String name, PodPhase phase, String ip) {
    return new PodInfo("uid-" + name, namespace, name, Optional.of("w1"), ImmutableList.of(ip), phase, false, false,
        null, null, null);
  }

  private static ClientCredentials from(String ip, String nodeId) throws Exception {
    return new ClientCredentials(new NodeIdentity(nodeId, "w1", true),
        new InetSocketAddress(InetAddress.getByName(ip), 40000), Optional.empty());
  }

  @Test
  void ipv6PeersMatchNodeAndPodAddressesWhateverTheirSpelling() throws Exception {
    PeerBinding binding = new PeerBinding(false, "nodemesh-system");

    assertThat(binding.check(from("fd00:0:0:0:0:0:0:a", "any"), STATE).label()).isEqualTo("peer_node_address");
    assertThat(binding.check(from("fd00:244:0::7", "envoy-v6"), STATE).label()).isEqualTo("peer_pod_ip");
  }

  @Test
  void aFinishedPodNoLongerVouchesForItsOldIp() throws Exception {
    PeerBinding.Result result = new PeerBinding(false, "nodemesh-system").check(from("10.244.0.9", "envoy-old"), STATE);

    assertThat(result.ok()).isFalse();
    assertThat(result.label()).isEqualTo("peer_mismatch");
  }

  @Test
  void anEmptyEnvoyNamespaceAcceptsTheNamedPodInAnyNamespace() throws Exception {
    ClusterState other = STATE.toBuilder().putPod(pod("elsewhere", "envoy-x", PodPhase.RUNNING, "10.244.0.5")).build();

    assertThat(new PeerBinding(false, "").check(from("10.244.0.5", "envoy-x"), other).ok()).isTrue();
    assertThat(new PeerBinding(false, "nodemesh-system").check(from("10.244.0.5", "envoy-x"), other).ok()).isFalse();
  }

  @Test
  void aConnectionWithoutAnIpAddressIsNeverBound() {
    ClientCredentials inProcess = new ClientCredentials(new NodeIdentity("e", "w1", true), null, Optional.empty());

    PeerBinding.Result result = new PeerBinding(true, "").check(inProcess, STATE);

    assertThat(result.ok()).isFalse();
    assertThat(result.label()).isEqualTo("peer_unknown");
  }
}
