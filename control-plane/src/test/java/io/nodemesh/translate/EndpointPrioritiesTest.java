package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Priorities of trafficDistribution variants: same node, same zone, rest; contiguous, empty groups skipped. */
class EndpointPrioritiesTest {

  private static final ServicePort PORT = ServicePort.tcp("db", 5432);
  private static final ServiceInfo SERVICE = new ServiceInfo("app", "db", ImmutableList.of("10.96.0.5"),
      ImmutableList.of(PORT), null, TrafficDistribution.PREFER_SAME_NODE);

  /** Endpoints: 10.0.1.x on node-a1 (zone a), 10.0.2.x on node-a2 (zone a), 10.0.3.x zone b, 10.0.9.1 nowhere. */
  private static ClusterState state(EndpointInfo... endpoints) {
    return ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(NodeInfo.of("node-a1", "a"))
        .putNode(NodeInfo.of("node-a2", "a"))
        .putNode(NodeInfo.of("node-b", "b"))
        .putNode(NodeInfo.of("node-none", null))
        .putService(SERVICE)
        .putEndpointSlice(new EndpointSliceInfo("app", "db-1", "db", AddressType.IPV4,
            ImmutableList.of(new EndpointPort("db", 5432, Protocol.TCP, Optional.empty())),
            ImmutableList.copyOf(endpoints)))
        .build();
  }

  private static EndpointInfo on(String ip, String node) {
    return new EndpointInfo(ImmutableList.of(ip), true, true, false, Optional.ofNullable(node), Optional.empty(),
        Optional.empty());
  }

  private static EndpointInfo inZone(String ip, String zone) {
    return new EndpointInfo(ImmutableList.of(ip), true, true, false, Optional.empty(), Optional.ofNullable(zone),
        Optional.empty());
  }

  /** Priority -> the endpoint IPs at that priority. */
  private static Map<Integer, TreeSet<String>> byPriority(ClusterLoadAssignment cla) {
    Map<Integer, TreeSet<String>> priorities = new TreeMap<>();
    for (LocalityLbEndpoints locality : cla.getEndpointsList()) {
      locality.getLbEndpointsList().forEach(endpoint -> priorities
          .computeIfAbsent(locality.getPriority(), p -> new TreeSet<>())
          .add(endpoint.getEndpoint().getAddress().getSocketAddress().getAddress()));
    }
    return priorities;
  }

  private static final ClusterState ALL_GROUPS = state(
      on("10.0.1.1", "node-a1"), on("10.0.2.1", "node-a2"), on("10.0.3.1", "node-b"), on("10.0.9.1", null),
      inZone("10.0.4.1", "a"));

  @Test
  void preferSameNodeOrdersNodeThenZoneThenRest() {
    ClusterLoadAssignment cla = EndpointTranslator.variantEndpoints(SERVICE, PORT, ALL_GROUPS,
        Proximity.ofNode("node-a1", Optional.of("a")));

    assertThat(cla.getClusterName()).isEqualTo("svc/app/db/5432@node/node-a1");
    assertThat(byPriority(cla)).isEqualTo(Map.of(
        0, new TreeSet<>(List.of("10.0.1.1")),
        1, new TreeSet<>(List.of("10.0.2.1", "10.0.4.1")),
        2, new TreeSet<>(List.of("10.0.3.1", "10.0.9.1"))));
    assertThat(EnvoyValidator.violations(cla)).isEmpty();
  }

  @Test
  void aZoneVariantHasNoNodeGroup() {
    ClusterLoadAssignment cla = EndpointTranslator.variantEndpoints(SERVICE, PORT, ALL_GROUPS, Proximity.ofZone("a"));

    assertThat(cla.getClusterName()).isEqualTo("svc/app/db/5432@zone/a");
    assertThat(byPriority(cla)).isEqualTo(Map.of(
        0, new TreeSet<>(List.of("10.0.1.1", "10.0.2.1", "10.0.4.1")),
        1, new TreeSet<>(List.of("10.0.3.1", "10.0.9.1"))));
  }

  @Test
  void emptyGroupsAreSkippedSoPrioritiesStayContiguous() {
    ClusterState noLocal = state(on("10.0.3.1", "node-b"), on("10.0.9.1", null));
    // nothing on node-a1 nor in zone a: everything is "rest", at priority 0
    assertThat(byPriority(EndpointTranslator.variantEndpoints(SERVICE, PORT, noLocal,
        Proximity.ofNode("node-a1", Optional.of("a"))))).containsOnlyKeys(0);
    // on the node and elsewhere, nothing else in the zone: 0 and 1, no gap
    ClusterState nodeAndRest = state(on("10.0.1.1", "node-a1"), on("10.0.3.1", "node-b"));
    assertThat(byPriority(EndpointTranslator.variantEndpoints(SERVICE, PORT, nodeAndRest,
        Proximity.ofNode("node-a1", Optional.of("a"))))).isEqualTo(Map.of(
            0, new TreeSet<>(List.of("10.0.1.1")), 1, new TreeSet<>(List.of("10.0.3.1"))));
    // only same zone: priority 0 alone
    ClusterState zoneOnly = state(on("10.0.2.1", "node-a2"));
    assertThat(byPriority(EndpointTranslator.variantEndpoints(SERVICE, PORT, zoneOnly,
        Proximity.ofNode("node-a1", Optional.of("a"))))).containsOnlyKeys(0);
  }

  @Test
  void anEndpointWithoutZoneIsRestEvenForAClientWithoutZone() {
    // node-none has no zone: its own endpoints first, everything else (zoned or not) after
    ClusterLoadAssignment cla = EndpointTranslator.variantEndpoints(SERVICE, PORT,
        state(on("10.0.5.1", "node-none"), on("10.0.9.1", null), on("10.0.3.1", "node-b")),
        Proximity.ofNode("node-none", Optional.empty()));

    assertThat(byPriority(cla)).isEqualTo(Map.of(
        0, new TreeSet<>(List.of("10.0.5.1")), 1, new TreeSet<>(List.of("10.0.3.1", "10.0.9.1"))));
  }

  @Test
  void theSliceZoneWinsOverTheNodeLabelAsForLocalities() {
    EndpointInfo sliceSaysB = new EndpointInfo(ImmutableList.of("10.0.2.9"), true, true, false,
        Optional.of("node-a2"), Optional.of("b"), Optional.empty());
    ClusterLoadAssignment cla = EndpointTranslator.variantEndpoints(SERVICE, PORT,
        state(sliceSaysB, on("10.0.2.1", "node-a2")), Proximity.ofZone("a"));

    assertThat(byPriority(cla)).isEqualTo(Map.of(
        0, new TreeSet<>(List.of("10.0.2.1")), 1, new TreeSet<>(List.of("10.0.2.9"))));
  }

  @Test
  void notReadyEndpointsStayOutOfVariantsAsOfTheBase() {
    EndpointInfo notReady = new EndpointInfo(ImmutableList.of("10.0.1.2"), false, false, false,
        Optional.of("node-a1"), Optional.empty(), Optional.empty());
    ClusterLoadAssignment cla = EndpointTranslator.variantEndpoints(SERVICE, PORT,
        state(notReady, on("10.0.3.1", "node-b")), Proximity.ofNode("node-a1", Optional.of("a")));

    assertThat(byPriority(cla)).isEqualTo(Map.of(0, new TreeSet<>(List.of("10.0.3.1"))));
  }

  @Test
  void theBaseAssignmentKeepsEveryEndpointAtPriorityZero() {
    ClusterLoadAssignment base = EndpointTranslator.serviceEndpoints(SERVICE, PORT, ALL_GROUPS);

    assertThat(base.getClusterName()).isEqualTo("svc/app/db/5432");
    assertThat(byPriority(base)).containsOnlyKeys(0);
    assertThat(byPriority(base).get(0)).hasSize(5);
  }
}
