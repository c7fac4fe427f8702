package io.nodemesh.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
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
  void podsAreFoundByAnyOfTheirIpsInCanonicalForm() {
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putPod(pod("a", "p1", "n1", "10.0.0.1", "fd00::0001"))
        .putPod(pod("a", "p2", "n2", "10.0.0.2"))
        .putPod(pod("b", "host-1", "n1", "192.168.0.1"))
        .putPod(pod("b", "host-2", "n1", "192.168.0.1"))
        .build();

    assertThat(state.podsWithIp("fd00::1")).extracting(PodInfo::name).containsExactly("p1");
    assertThat(state.podsWithIp("10.0.0.2")).extracting(PodInfo::name).containsExactly("p2");
    assertThat(state.podsWithIp("192.168.0.1")).extracting(PodInfo::name).containsExactly("host-1", "host-2");
    assertThat(state.podsWithIp("10.0.0.3")).isEmpty();
  }

  @Test
  void nodesAreFoundByTheirAddresses() {
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(new NodeInfo("n1", Optional.of("zone-a"), Optional.empty(), true,
            ImmutableList.of("192.168.0.1", "fd00::1")))
        .putNode(new NodeInfo("n2", Optional.empty(), Optional.empty(), true, ImmutableList.of("192.168.0.2")))
        .build();

    assertThat(state.nodeWithAddress("fd00::1")).contains("n1");
    assertThat(state.nodeWithAddress("192.168.0.2")).contains("n2");
    assertThat(state.nodeWithAddress("192.168.0.3")).isEmpty();
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
  void aPinReportedByItsNodesAgentMeshesAPodBeforeTheApiShowsItsIpAndItsReleaseUnmeshesIt() {
    PodInfo fresh = pod("b", "p2", "n1");
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNamespace(namespace("b", true))
        .putPod(fresh);
    assertThat(builder.build().pod(fresh.key()).orElseThrow().mesh().reason()).isEqualTo("no pod IP yet");

    // another node's agent cannot speak for this pod
    builder.putPins("n2", ImmutableMap.of(fresh.uid(), new NodePin(fresh.uid(), ImmutableList.of("10.0.0.9"), false)));
    assertThat(builder.build().pod(fresh.key()).orElseThrow().mesh().meshed()).isFalse();
    assertThat(builder.takePodsChangedByOthers()).isEmpty();

    builder.putPins("n1", ImmutableMap.of(fresh.uid(), new NodePin(fresh.uid(), ImmutableList.of("10.0.0.2"), false)));
    PodInfo pinned = builder.build().pod(fresh.key()).orElseThrow();
    assertThat(pinned.mesh().meshed()).isTrue();
    assertThat(pinned.ips()).containsExactly("10.0.0.2");
    assertThat(builder.takePodsChangedByOthers()).containsExactly(fresh.key());

    // a namespace re-evaluation keeps the pin's IPs; the API's IPs win once it has them
    builder.putNamespace(namespace("b", true));
    assertThat(builder.build().pod(fresh.key()).orElseThrow().mesh().meshed()).isTrue();
    builder.putPod(pod("b", "p2", "n1", "10.0.0.7"));
    assertThat(builder.build().pod(fresh.key()).orElseThrow().ips()).containsExactly("10.0.0.7");

    // CNI DEL: the release unmeshes the pod although the API still shows its IP
    builder.putPins("n1", ImmutableMap.of(fresh.uid(), new NodePin(fresh.uid(), ImmutableList.of("10.0.0.2"), true)));
    assertThat(builder.build().pod(fresh.key()).orElseThrow().mesh().reason()).contains("releasing");
    assertThat(builder.takePodsChangedByOthers()).containsExactly(fresh.key());

    // a pin that disappears before the API shows an IP takes the pin's IPs with it
    PodInfo other = pod("b", "p3456", "n1");
    builder.putPod(other)
        .putPins("n1", ImmutableMap.of(other.uid(), new NodePin(other.uid(), ImmutableList.of("10.0.0.3"), false)));
    assertThat(builder.build().pod(other.key()).orElseThrow().mesh().meshed()).isTrue();
    builder.putPins("n1", ImmutableMap.of());
    PodInfo unpinned = builder.build().pod(other.key()).orElseThrow();
    assertThat(unpinned.mesh().meshed()).isFalse();
    assertThat(unpinned.ips()).isEmpty();
    assertThat(builder.build().pod(fresh.key()).orElseThrow().mesh().meshed()).isTrue();
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
  void aNodeZoneThatIsNoLabelValueIsDroppedWithAProblemAndTheNodeKept() {
    String tooLong = "z".repeat(64);
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(NodeInfo.of("good", "eu-west_1.a"))
        .putNode(NodeInfo.of("percent", "zone-%DOWNSTREAM_LOCAL_ADDRESS%"))
        .putNode(NodeInfo.of("slash", "a/b"))
        .putNode(NodeInfo.of("long", tooLong))
        .putNode(NodeInfo.of("dash", "-a"))
        .putNode(NodeInfo.of("max", "z".repeat(63)))
        .build();

    assertThat(state.node("good").orElseThrow().zone()).contains("eu-west_1.a");
    assertThat(state.node("max").orElseThrow().zone()).contains("z".repeat(63));
    for (String node : new String[] {"percent", "slash", "long", "dash"}) {
      assertThat(state.node(node)).as(node).isPresent().get().extracting(NodeInfo::zone).isEqualTo(Optional.empty());
    }
    assertThat(state.problems()).hasSize(4).allSatisfy(problem -> {
      assertThat(problem.kind()).isEqualTo("Node");
      assertThat(problem.reason()).contains("not a Kubernetes label value").hasSizeLessThan(200);
    });
    // a valid zone later clears the problem
    ClusterState fixed = state.toBuilder().putNode(NodeInfo.of("slash", "b")).build();
    assertThat(fixed.problems()).hasSize(3);
  }

  @Test
  void aServiceKeepsItsTrafficDistributionThroughValidation() {
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS)
        .putService(new ServiceInfo("a", "web", ImmutableList.of("10.96.0.1", "bad"),
            ImmutableList.of(ServicePort.tcp("p", 80)), null, TrafficDistribution.PREFER_SAME_NODE))
        .putService(new ServiceInfo("a", "old", ImmutableList.of("10.96.0.2"), null, null))
        .build();

    assertThat(state.service(ObjectKey.of("a", "web")).orElseThrow().trafficDistribution())
        .isEqualTo(TrafficDistribution.PREFER_SAME_NODE);
    assertThat(state.service(ObjectKey.of("a", "old")).orElseThrow().trafficDistribution())
        .isEqualTo(TrafficDistribution.NONE);
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

  // ---- annotation netns mode: one namespace, one pod ----

  private static final MeshOptions ANNOTATION_MODE =
      new MeshOptions(true, NetnsMode.ANNOTATION, null, MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX);
  private static final String VICTIM_NETNS = "/var/run/netns/cni-1f2e3d4c";

  private static PodInfo annotated(String namespace, String name, String node, String netns) {
    return new PodInfo("uid-" + name, namespace, name, Optional.of(node), ImmutableList.of("10.0.0." + name.length()),
        PodPhase.RUNNING, false, false, null, ImmutableSortedMap.of(NetnsPaths.ANNOTATION, netns), null);
  }

  private static MeshStatus meshOf(ClusterState state, String namespace, String name) {
    return state.pod(ObjectKey.of(namespace, name)).orElseThrow().mesh();
  }

  @Test
  void twoPodsOfOneNodeNamingOneNetnsAreBothRefusedAndEachNamesTheOther() {
    ClusterState.Builder builder = ClusterState.builder(ANNOTATION_MODE)
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS));
    assertThat(meshOf(builder.build(), "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));

    ClusterState state = builder.putPod(annotated("evil", "thief", "n1", VICTIM_NETNS)).build();

    assertThat(meshOf(state, "shop", "web-1").meshed()).isFalse();
    assertThat(meshOf(state, "shop", "web-1").reason()).contains(VICTIM_NETNS, "evil/thief", "node n1");
    assertThat(meshOf(state, "evil", "thief").meshed()).isFalse();
    assertThat(meshOf(state, "evil", "thief").reason()).contains(VICTIM_NETNS, "shop/web-1", "node n1");
    assertThat(state.problems()).extracting(p -> p.namespace() + "/" + p.name())
        .containsExactlyInAnyOrder("shop/web-1", "evil/thief");
    assertThat(builder.takePodsChangedByOthers()).containsExactly(ObjectKey.of("shop", "web-1"));
  }

  @Test
  void theSamePathOnAnotherNodeIsAnotherNamespace() {
    ClusterState state = ClusterState.builder(ANNOTATION_MODE)
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .putPod(annotated("shop", "web-2", "n2", VICTIM_NETNS))
        .build();

    assertThat(meshOf(state, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(meshOf(state, "shop", "web-2")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(state.problems()).isEmpty();
  }

  @Test
  void whenEitherPodGoesTheOtherIsMeshedAgainAndTheProblemsGo() {
    ClusterState.Builder builder = ClusterState.builder(ANNOTATION_MODE)
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .putPod(annotated("evil", "thief", "n1", VICTIM_NETNS));
    builder.build();
    builder.takePodsChangedByOthers();

    ClusterState olderGone = builder.removePod(ObjectKey.of("shop", "web-1")).build();

    assertThat(meshOf(olderGone, "evil", "thief")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(olderGone.problems()).isEmpty();
    assertThat(builder.takePodsChangedByOthers()).containsExactly(ObjectKey.of("evil", "thief"));

    ClusterState newerGone = builder.putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .removePod(ObjectKey.of("evil", "thief")).build();
    assertThat(meshOf(newerGone, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(newerGone.problems()).isEmpty();
  }

  @Test
  void aPodThatStopsNamingThePathOrStopsBeingMeshedReleasesIt() {
    ClusterState.Builder builder = ClusterState.builder(ANNOTATION_MODE)
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .putPod(annotated("evil", "thief", "n1", VICTIM_NETNS));

    ClusterState renamed = builder.putPod(annotated("evil", "thief", "n1", "/var/run/netns/cni-own")).build();
    assertThat(meshOf(renamed, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(meshOf(renamed, "evil", "thief")).isEqualTo(MeshStatus.meshed("/var/run/netns/cni-own"));

    builder.putPod(annotated("evil", "thief", "n1", VICTIM_NETNS));
    assertThat(meshOf(builder.build(), "shop", "web-1").meshed()).isFalse();
    PodInfo optedOut = annotated("evil", "thief", "n1", VICTIM_NETNS);
    optedOut = new PodInfo(optedOut.uid(), "evil", "thief", optedOut.nodeName(), optedOut.ips(), PodPhase.RUNNING,
        false, false, ImmutableSortedMap.of(MeshPolicy.MESH_LABEL, MeshPolicy.DISABLED), optedOut.annotations(), null);
    ClusterState released = builder.putPod(optedOut).build();
    assertThat(meshOf(released, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(meshOf(released, "evil", "thief").reason()).contains("opted out");
    assertThat(released.problems()).isEmpty();
  }

  @Test
  void theDecisionDoesNotDependOnTheOrderPodsArriveIn() {
    PodInfo a = annotated("shop", "web-1", "n1", VICTIM_NETNS);
    PodInfo b = annotated("evil", "thief", "n1", VICTIM_NETNS);
    PodInfo c = annotated("other", "bystander", "n1", "/var/run/netns/cni-2");

    ClusterState forward = ClusterState.builder(ANNOTATION_MODE).putPod(a).putPod(b).putPod(c).build();
    ClusterState backward = ClusterState.builder(ANNOTATION_MODE).putPod(c).putPod(b).putPod(a).build();

    assertThat(backward).isEqualTo(forward);
    assertThat(meshOf(forward, "other", "bystander").meshed()).isTrue();
  }

  @Test
  void aBuilderFromAStateKnowsItsClaimsAndDropsTheConflictWhenItEnds() {
    ClusterState state = ClusterState.builder(ANNOTATION_MODE)
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .putPod(annotated("evil", "thief", "n1", VICTIM_NETNS))
        .build();
    assertThat(state.toBuilder().build()).isEqualTo(state);

    ClusterState resolved = state.toBuilder().removePod(ObjectKey.of("evil", "thief")).build();
    assertThat(meshOf(resolved, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(resolved.problems()).isEmpty();

    ClusterState third = state.toBuilder().putPod(annotated("evil", "thief-2", "n1", VICTIM_NETNS)).build();
    assertThat(meshOf(third, "shop", "web-1").reason()).contains("pods evil/thief, evil/thief-2");
  }

  @Test
  void manyClaimantsAreCountedNotAllNamed() {
    ClusterState.Builder builder = ClusterState.builder(ANNOTATION_MODE);
    for (int i = 0; i < 6; i++) {
      builder.putPod(annotated("evil", "thief-" + i, "n1", VICTIM_NETNS));
    }
    ClusterState state = builder.build();

    assertThat(meshOf(state, "evil", "thief-0").reason())
        .contains("pods evil/thief-1, evil/thief-2, evil/thief-3 and 2 more on node n1")
        .doesNotContain("thief-4");
    assertThat(state.pods().values()).noneMatch(pod -> pod.mesh().meshed());
    assertThat(state.problems()).hasSize(6);
  }

  @Test
  void aNamespaceOptOutReleasesThePathsOfItsPods() {
    MeshOptions optIn = new MeshOptions(false, NetnsMode.ANNOTATION, null, MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX);
    ClusterState.Builder builder = ClusterState.builder(optIn)
        .putNamespace(namespace("shop", true))
        .putNamespace(namespace("evil", true))
        .putPod(annotated("shop", "web-1", "n1", VICTIM_NETNS))
        .putPod(annotated("evil", "thief", "n1", VICTIM_NETNS));
    assertThat(meshOf(builder.build(), "shop", "web-1").meshed()).isFalse();

    ClusterState state = builder.putNamespace(namespace("evil", false)).build();

    assertThat(meshOf(state, "shop", "web-1")).isEqualTo(MeshStatus.meshed(VICTIM_NETNS));
    assertThat(state.problems()).isEmpty();
  }
}
