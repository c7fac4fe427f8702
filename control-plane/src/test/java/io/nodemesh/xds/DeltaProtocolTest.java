package io.nodemesh.xds;

import static io.nodemesh.xds.AdsTestClient.Delta.resourceNames;
import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableSet;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.nodemesh.api.admin.v1.SyncState;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeltaProtocolTest {

  private final XdsTestServer server = new XdsTestServer();

  @AfterEach
  void close() {
    server.close();
  }

  private void nodeWithThreeClusters() {
    server.apply(
        UpdateBatch.builder()
            .put(cluster("a"))
            .put(cluster("b"))
            .put(cluster("c"))
            .put(cluster("elsewhere"))
            .put(listener("pod/default/p/outbound", "a"))
            .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a", "b", "c"))
            .build());
  }

  private AdsTestClient.Delta envoy(String id) {
    return AdsTestClient.Delta.connect(server.channel, envoyNode(id, "node-1"));
  }

  @Test
  void aFirstRequestWithoutNamesIsAWildcardOverTheNodesView() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.CLUSTER);

      assertThat(resourceNames(response)).containsExactlyInAnyOrder("a", "b", "c");
      assertThat(response.getRemovedResourcesList()).isEmpty();
      assertThat(response.getSystemVersionInfo()).hasSize(16);
    }
  }

  @Test
  void anExplicitStarPlusANameGetsTheViewAndThatName() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.CLUSTER, "*", "elsewhere", "a");

      assertThat(resourceNames(response)).containsExactlyInAnyOrder("a", "b", "c", "elsewhere");
    }
  }

  @Test
  void aFreshWildcardClientOnAnEmptyNodeGetsAnEmptyFirstResponse() {
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "empty"))) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.LISTENER);

      assertThat(response.getResourcesList()).isEmpty();
      assertThat(response.getRemovedResourcesList()).isEmpty();
    }
  }

  @Test
  void namingResourcesEndsALegacyWildcardUnlessTheStarIsNamed() {
    nodeWithThreeClusters();
    try (var legacy = envoy("envoy-1");
        var explicit = envoy("envoy-2")) {
      legacy.subscribeResponseAck(ResourceType.CLUSTER);
      explicit.subscribeResponseAck(ResourceType.CLUSTER, "*");

      legacy.subscribe(ResourceType.CLUSTER, "elsewhere");
      explicit.subscribe(ResourceType.CLUSTER, "elsewhere");

      DeltaDiscoveryResponse narrowed = legacy.awaitResponse(ResourceType.CLUSTER);
      assertThat(resourceNames(narrowed)).containsExactly("elsewhere");
      assertThat(narrowed.getRemovedResourcesList()).isEmpty();
      assertThat(server.typeStatus("envoy-1", ResourceType.CLUSTER).orElseThrow().getWildcard()).isFalse();
      assertThat(resourceNames(explicit.awaitResponse(ResourceType.CLUSTER))).containsExactly("elsewhere");
      assertThat(server.typeStatus("envoy-2", ResourceType.CLUSTER).orElseThrow().getWildcard()).isTrue();
    }
  }

  @Test
  void aNamedSubscriptionReceivesOnlyThoseNames() {
    server.put(endpoints("a", "10.0.0.1", 80), endpoints("b", "10.0.0.2", 80));
    try (var envoy = envoy("envoy-1")) {
      assertThat(resourceNames(envoy.subscribeResponseAck(ResourceType.ENDPOINT, "b"))).containsExactly("b");
    }
  }

  @Test
  void aSubscribedNameTheServerDoesNotHoldIsReportedRemovedOnceAndCounted() {
    try (var envoy = envoy("envoy-1")) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.ENDPOINT, "nope");

      assertThat(response.getResourcesList()).isEmpty();
      assertThat(response.getRemovedResourcesList()).containsExactly("nope");
      assertThat(server.xds.metrics().unknownResourceNames()).isEqualTo(1);
      server.put(cluster("unrelated"));
      envoy.expectNoResponse();
    }
  }

  @Test
  void aChangeSendsOnlyTheChangedResource() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.CLUSTER);

      server.put(cluster("b", 999));

      DeltaDiscoveryResponse update = envoy.awaitResponse(ResourceType.CLUSTER);
      assertThat(resourceNames(update)).containsExactly("b");
      assertThat(update.getRemovedResourcesList()).isEmpty();
      assertThat(update.getResources(0).getVersion()).isEqualTo(Resource.of(cluster("b", 999)).version());
    }
  }

  @Test
  void aResourceLeavingTheNodesViewIsReportedInRemovedResources() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.CLUSTER);

      server.apply(UpdateBatch.builder().putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a", "c")).build());

      DeltaDiscoveryResponse update = envoy.awaitResponse(ResourceType.CLUSTER);
      assertThat(update.getResourcesList()).isEmpty();
      assertThat(update.getRemovedResourcesList()).containsExactly("b");
      assertThat(envoy.held(ResourceType.CLUSTER)).containsOnlyKeys("a", "c");
    }
  }

  @Test
  void aSharedLayerChangeSendsTheNamesThatEnteredAndRemovesThoseThatLeft() {
    ImmutableSet<String> own = ImmutableSet.of("blackhole");
    server.apply(UpdateBatch.builder()
        .put(cluster("blackhole")).put(cluster("a")).put(cluster("b")).put(cluster("c"))
        .putNode("node-1", new NodeView(ImmutableSet.of(), own, ImmutableSet.of(), ImmutableSet.of("a", "b")))
        .putNode("node-2", new NodeView(ImmutableSet.of(), own, ImmutableSet.of(), ImmutableSet.of("a", "b")))
        .build());
    try (var envoy = envoy("envoy-1")) {
      assertThat(resourceNames(envoy.subscribeResponseAck(ResourceType.CLUSTER)))
          .containsExactlyInAnyOrder("blackhole", "a", "b");

      // every node gets the same new layer instance, as the assembler hands it out; "a" changes meanwhile
      ImmutableSet<String> layer = ImmutableSet.of("a", "c");
      server.apply(UpdateBatch.builder()
          .put(cluster("a", 7))
          .putNode("node-1", new NodeView(ImmutableSet.of(), own, ImmutableSet.of(), layer))
          .putNode("node-2", new NodeView(ImmutableSet.of(), own, ImmutableSet.of(), layer))
          .build());

      DeltaDiscoveryResponse update = envoy.awaitResponse(ResourceType.CLUSTER);
      assertThat(resourceNames(update)).containsExactlyInAnyOrder("a", "c");
      assertThat(update.getRemovedResourcesList()).containsExactly("b");
      assertThat(envoy.held(ResourceType.CLUSTER)).containsOnlyKeys("blackhole", "a", "c");
    }
  }

  @Test
  void aNameCannotBeBothTheNodesOwnAndShared() {
    assertThatThrownBy(() -> new NodeView(ImmutableSet.of(), ImmutableSet.of("a", "b"), ImmutableSet.of(),
        ImmutableSet.of("b")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cluster b");
  }

  @Test
  void aNamedResourceThatIsDeletedIsReportedInRemovedResources() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");

      server.apply(UpdateBatch.builder().remove(ResourceType.ENDPOINT, "a").build());

      assertThat(envoy.awaitResponse(ResourceType.ENDPOINT).getRemovedResourcesList()).containsExactly("a");
    }
  }

  @Test
  void unsubscribingStopsUpdatesAndSendsNoRemoval() {
    server.put(endpoints("a", "10.0.0.1", 80), endpoints("b", "10.0.0.1", 81));
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a", "b");

      envoy.unsubscribe(ResourceType.ENDPOINT, "a");
      envoy.expectNoResponse();
      server.put(endpoints("a", "10.0.0.9", 80));
      envoy.expectNoResponse();

      server.put(endpoints("b", "10.0.0.9", 81));
      assertThat(resourceNames(envoy.awaitResponse(ResourceType.ENDPOINT))).containsExactly("b");
    }
  }

  @Test
  void resubscribingAfterAnUnsubscribeSendsTheResourceAgain() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      envoy.unsubscribe(ResourceType.ENDPOINT, "a");

      assertThat(resourceNames(envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a"))).containsExactly("a");
    }
  }

  @Test
  void aReconnectWithInitialVersionsReceivesOnlyWhatDiffers() {
    nodeWithThreeClusters();
    Map<String, String> held;
    try (var before = envoy("envoy-1")) {
      before.subscribeResponseAck(ResourceType.CLUSTER);
      held = before.held(ResourceType.CLUSTER);
    }
    server.apply(
        UpdateBatch.builder()
            .put(cluster("a", 777))
            .remove(ResourceType.CLUSTER, "c")
            .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a", "b"))
            .build());
    Map<String, String> claimed = new HashMap<>(held);
    claimed.put("ghost", "0123");

    try (var after = envoy("envoy-1")) {
      after.resume(ResourceType.CLUSTER, claimed);

      DeltaDiscoveryResponse response = after.awaitResponse(ResourceType.CLUSTER);
      assertThat(resourceNames(response)).containsExactly("a");
      assertThat(response.getRemovedResourcesList()).containsExactlyInAnyOrder("c", "ghost");
      after.ack(response);
      after.expectNoResponse();
    }
  }

  @Test
  void aReconnectWithCurrentVersionsReceivesNothing() {
    nodeWithThreeClusters();
    server.put(endpoints("a", "10.0.0.1", 80));
    Map<String, String> clusters;
    Map<String, String> endpoints;
    try (var before = envoy("envoy-1")) {
      before.subscribeResponseAck(ResourceType.CLUSTER);
      before.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      clusters = before.held(ResourceType.CLUSTER);
      endpoints = before.held(ResourceType.ENDPOINT);
    }

    try (var after = envoy("envoy-1")) {
      after.resume(ResourceType.CLUSTER, clusters);
      after.resume(ResourceType.ENDPOINT, endpoints, "a");

      after.expectNoResponse();
      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.ENDPOINT).orElseThrow().getState()).isEqualTo(SyncState.SYNCED));
    }
  }

  @Test
  void aPushLargerThanTheMaxMessageSizeIsSplitIntoResponsesUnderIt() {
    // five ~1 MiB endpoint sets: more than one 4 MiB response can carry
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (int i = 0; i < 5; i++) {
      batch.put(bigEndpoints("big-" + i, 1 << 20));
    }
    server.apply(batch.build());
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribe(ResourceType.ENDPOINT, "big-0", "big-1", "big-2", "big-3", "big-4");

      DeltaDiscoveryResponse first = envoy.awaitResponse(ResourceType.ENDPOINT);
      DeltaDiscoveryResponse second = envoy.awaitResponse(ResourceType.ENDPOINT);
      assertThat(first.getSerializedSize()).isLessThanOrEqualTo(XdsTunables.DEFAULT_MAX_RESPONSE_BYTES);
      assertThat(second.getSerializedSize()).isLessThanOrEqualTo(XdsTunables.DEFAULT_MAX_RESPONSE_BYTES);
      Set<String> all = new HashSet<>(resourceNames(first));
      all.addAll(resourceNames(second));
      assertThat(all).containsExactlyInAnyOrder("big-0", "big-1", "big-2", "big-3", "big-4");
      assertThat(first.getNonce()).isNotEqualTo(second.getNonce());
      assertThat(server.xds.metrics().splitResponses()).isEqualTo(1);

      envoy.ack(first);
      envoy.ack(second);
      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.ENDPOINT).orElseThrow().getState()).isEqualTo(SyncState.SYNCED));
      assertThat(server.xds.metrics().staleNonces()).isZero();
    }
  }

  @Test
  void theMaxMessageSizeIsTheOneConfiguredNotTheDefault() {
    int limit = 256 * 1024;
    try (XdsTestServer small = new XdsTestServer(XdsEventListener.NONE, java.time.Clock.systemUTC(),
        XdsServerOptions.DEFAULTS.withMaxResponseBytes(limit))) {
      UpdateBatch.Builder batch = UpdateBatch.builder();
      for (int i = 0; i < 8; i++) {
        batch.put(bigEndpoints("mid-" + i, 100 * 1024));
      }
      small.apply(batch.build());
      try (var envoy = AdsTestClient.Delta.connect(small.channel, envoyNode("envoy-1", "node-1"))) {
        envoy.subscribe(ResourceType.ENDPOINT, "mid-0", "mid-1", "mid-2", "mid-3", "mid-4", "mid-5", "mid-6",
            "mid-7");
        Set<String> all = new HashSet<>();
        while (all.size() < 8) {
          DeltaDiscoveryResponse part = envoy.awaitResponse(ResourceType.ENDPOINT);
          assertThat(part.getSerializedSize()).as("each part under --max-message-bytes").isLessThanOrEqualTo(limit);
          all.addAll(resourceNames(part));
        }
        // ~800 KiB: one response under the 4 MiB default, at least four under 256 KiB
        assertThat(small.xds.metrics().splitResponses()).isEqualTo(1);
        assertThat(small.xds.metrics().oversizeResponses()).isZero();
      }
    }
  }

  @Test
  void aSingleResourceAboveTheLimitIsSentAloneWithAWarningAndCounted() {
    server.apply(
        UpdateBatch.builder()
            .put(bigEndpoints("huge", XdsTunables.DEFAULT_MAX_RESPONSE_BYTES + 1024))
            .put(endpoints("small", "10.0.0.1", 80))
            .build());
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribe(ResourceType.ENDPOINT, "huge", "small");

      List<DeltaDiscoveryResponse> responses = List.of(envoy.awaitResponse(), envoy.awaitResponse());
      assertThat(responses).allSatisfy(r -> assertThat(r.getResourcesCount()).isEqualTo(1));
      assertThat(server.xds.metrics().oversizeResponses()).isEqualTo(1);
    }
  }

  @Test
  void clusterAndEndpointRemovalsFollowTheListenerUpdate() {
    nodeWithThreeClusters();
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = envoy("envoy-1")) {
      envoy.subscribeResponseAck(ResourceType.CLUSTER);
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      envoy.subscribeResponseAck(ResourceType.LISTENER);

      server.apply(
          UpdateBatch.builder()
              .put(cluster("d"))
              .remove(ResourceType.CLUSTER, "a")
              .remove(ResourceType.ENDPOINT, "a")
              .put(listener("pod/default/p/outbound", "d"))
              .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("b", "c", "d"))
              .build());

      List<DeltaDiscoveryResponse> responses = envoy.responsesWithin(Duration.ofMillis(500));
      assertThat(responses).extracting(DeltaDiscoveryResponse::getTypeUrl)
          .containsExactly(
              ResourceType.CLUSTER.typeUrl(),
              ResourceType.LISTENER.typeUrl(),
              ResourceType.CLUSTER.typeUrl(),
              ResourceType.ENDPOINT.typeUrl());
      assertThat(resourceNames(responses.get(0))).containsExactly("d");
      assertThat(responses.get(0).getRemovedResourcesList()).isEmpty();
      assertThat(responses.get(2).getRemovedResourcesList()).containsExactly("a");
      assertThat(responses.get(3).getRemovedResourcesList()).containsExactly("a");
    }
  }

  @Test
  void aNameRequestedTwiceAndAlsoInTheViewIsSentOnce() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      envoy.send(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(ResourceType.CLUSTER.typeUrl())
              .addResourceNamesSubscribe("*")
              .addResourceNamesSubscribe("a")
              .addResourceNamesSubscribe("a"));

      // the client checks every response for duplicate names
      assertThat(resourceNames(envoy.awaitResponse(ResourceType.CLUSTER))).containsExactlyInAnyOrder("a", "b", "c");
    }
  }

  @Test
  void anAckMarksTheTypeSyncedAndTheStatusShowsTheSubscription() {
    nodeWithThreeClusters();
    try (var envoy = envoy("envoy-1")) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.CLUSTER);

      await().untilAsserted(() -> {
        var status = server.typeStatus("envoy-1", ResourceType.CLUSTER).orElseThrow();
        assertThat(status.getState()).isEqualTo(SyncState.SYNCED);
        assertThat(status.getAckedVersion()).isEqualTo(response.getSystemVersionInfo());
        assertThat(status.getWildcard()).isTrue();
        assertThat(status.getResourceCount()).isEqualTo(3);
      });
      assertThat(server.client("envoy-1").orElseThrow().getProtocol()).isEqualTo("delta");
    }
  }

  /** An endpoint set of roughly {@code bytes} serialized bytes. */
  static ClusterLoadAssignment bigEndpoints(String name, int bytes) {
    int perEndpoint = endpoints(name, "10.0.0.1", 8080, 8081).getSerializedSize() - endpoints(name, "10.0.0.1", 8080).getSerializedSize();
    int count = bytes / perEndpoint + 1;
    int[] ports = new int[count];
    for (int i = 0; i < count; i++) {
      ports[i] = 1024 + (i % 60000);
    }
    return endpoints(name, "10.0.0.1", ports);
  }
}
