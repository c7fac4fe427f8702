package io.nodemesh.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClusterStateTest {

  private static PodInfo pod(String namespace, String name, String node, String... ips) {
    return new PodInfo("0a0b0c0d-0000-0000-0000-00000000000" + name.length(), namespace, name,
        Optional.ofNullable(node), ImmutableList.copyOf(ips), PodPhase.RUNNING, false, false, null, null, null);
  }

  private static NamespaceInfo namespace(String name, boolean optedIn) {
    return new NamespaceInfo(name, optedIn
        ? ImmutableSortedMap.of(MeshPolicy.MESH_LABEL, MeshPolicy.ENABLED)
        : ImmutableSortedMap.of());
  }

  @Test
  void flippingANamespaceOptInReevaluatesOnlyThatNamespacesPods() {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNamespace(namespace("a", false))
        .putNamespace(namespace("b", true))
        .putPod(pod("a", "p1", "n1", "10.0.0.1"))
        .putPod(pod("b", "p2", "n1", "10.0.0.2"));
    assertThat(builder.build().pod(ObjectKey.of("a", "p1")).orElseThrow().mesh().meshed()).isFalse();

    ClusterState flipped = builder.putNamespace(namespace("a", true)).build();
    assertThat(flipped.pod(ObjectKey.of("a", "p1")).orElseThrow().mesh().meshed()).isTrue();
    assertThat(flipped.pod(ObjectKey.of("b", "p2")).orElseThrow().mesh().meshed()).isTrue();

    ClusterState removed = builder.removeNamespace("a").build();
    assertThat(removed.pod(ObjectKey.of("a", "p1")).orElseThrow().mesh().reason()).contains("not opted in");
  }

  @Test
  void replacingAnObjectWithAValidVersionClearsItsProblems() {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS)
        .putPod(pod("a", "p1", "n1", "bogus", "10.0.0.1"));
    assertThat(builder.build().problems()).singleElement().extracting(Problem::reason).asString().contains("bogus");

    ClusterState fixed = builder.putPod(pod("a", "p1", "n1", "10.0.0.1")).build();
    assertThat(fixed.problems()).isEmpty();
    assertThat(fixed.toBuilder().putPod(pod("a", "p2", "n1", "x")).removePod(ObjectKey.of("a", "p2")).build())
        .isEqualTo(fixed);
  }

  @Test
  void problemsSurviveToBuilderAndObjectsStayIndexedByNode() {
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putPod(pod("a", "p1", "n1", "10.0.0.1"))
        .putPod(pod("a", "p2", "n2", "10.0.0.2"))
        .putPod(pod("a", "p3", "n1", "10.0.0.3", "10.0.0.3"))
        .putService(new ServiceInfo("a", "Bad", ImmutableList.of("10.96.0.1"), null, null))
        .build();
    assertThat(state.podsOnNode("n1")).extracting(PodInfo::name).containsExactly("p1", "p3");
    assertThat(state.pod(ObjectKey.of("a", "p3")).orElseThrow().ips()).containsExactly("10.0.0.3");
    assertThat(state.services()).isEmpty();
    assertThat(state.toBuilder().build().problems()).isEqualTo(state.problems()).hasSize(1);
  }

  @Test
  void servicePortsAreValidatedAndBounded() {
    ImmutableList.Builder<ServicePort> ports = ImmutableList.builder();
    for (int port = 1; port <= ModelValidation.MAX_PORTS_PER_SERVICE + 5; port++) {
      ports.add(ServicePort.tcp("p" + port, port));
    }
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putService(new ServiceInfo("a", "many", ImmutableList.of("10.96.0.1"), ports.build(), null))
        .build();
    assertThat(state.service(ObjectKey.of("a", "many")).orElseThrow().ports())
        .hasSize(ModelValidation.MAX_PORTS_PER_SERVICE);
    assertThat(state.problems()).hasSize(5);
  }

  @Test
  void slicesAreIndexedByTheirService() {
    EndpointSliceInfo slice = new EndpointSliceInfo("a", "web-x", "web", AddressType.IPV4, null,
        ImmutableList.of(new EndpointInfo(ImmutableList.of("10.0.0.9"), true, true, false, null, null, null),
            new EndpointInfo(ImmutableList.of("nope"), true, true, false, null, null, null)));
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS).putEndpointSlice(slice).build();
    assertThat(state.slicesOf(ObjectKey.of("a", "web"))).singleElement()
        .satisfies(s -> assertThat(s.endpoints()).hasSize(1));
    assertThat(state.problems()).singleElement().extracting(Problem::reason).asString().contains("nope");
  }
}
