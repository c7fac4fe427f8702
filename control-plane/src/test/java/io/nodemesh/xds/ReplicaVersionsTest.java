package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static io.nodemesh.xds.TestResources.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.nodemesh.api.admin.v1.SyncState;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Two replicas holding the same state agree on every version, so clients can move between them freely. */
class ReplicaVersionsTest {

  private final XdsTestServer first = new XdsTestServer();
  private final XdsTestServer second = new XdsTestServer();

  @AfterEach
  void close() {
    first.close();
    second.close();
  }

  /** The same state, reached through different batches in a different order. */
  private void sameStateDifferentHistory() {
    first.apply(
        UpdateBatch.builder()
            .put(cluster("a"))
            .put(cluster("b"))
            .put(endpoints("a", "10.0.0.1", 80))
            .put(route("r", "a"))
            .put(listener("pod/default/p/outbound", "a"))
            .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a", "b"))
            .build());
    second.apply(UpdateBatch.builder().put(cluster("b")).put(cluster("a", 1)).putNode("node-1", Set.of(), Set.of("b")).build());
    second.apply(UpdateBatch.builder().put(route("r", "a")).put(endpoints("a", "10.0.0.9", 80)).build());
    second.apply(
        UpdateBatch.builder()
            .put(listener("pod/default/p/outbound", "a"))
            .put(cluster("a"))
            .put(endpoints("a", "10.0.0.1", 80))
            .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("b", "a"))
            .build());
  }

  @Test
  void twoServersWithTheSameStateSendIdenticalSotwVersions() {
    sameStateDifferentHistory();
    try (var one = AdsTestClient.Sotw.connect(first.channel, envoyNode("envoy-1", "node-1"));
        var two = AdsTestClient.Sotw.connect(second.channel, envoyNode("envoy-1", "node-1"))) {
      for (ResourceType type : ResourceType.values()) {
        String[] names = type.fullState() ? new String[0] : new String[] {type == ResourceType.ROUTE ? "r" : "a"};
        DiscoveryResponse fromFirst = one.requestResponseAck(type, names);
        DiscoveryResponse fromSecond = two.requestResponseAck(type, names);

        assertThat(fromSecond.getVersionInfo()).as(type.shortName()).isEqualTo(fromFirst.getVersionInfo());
        assertThat(fromSecond.getResourcesList()).as(type.shortName()).containsExactlyInAnyOrderElementsOf(fromFirst.getResourcesList());
      }
    }
  }

  @Test
  void aSotwClientMovingToAnotherReplicaWithItsVersionsReceivesNothingButAChangeStillArrives() {
    sameStateDifferentHistory();
    String clusters;
    String endpoints;
    try (var onFirst = AdsTestClient.Sotw.connect(first.channel, envoyNode("envoy-1", "node-1"))) {
      clusters = onFirst.requestResponseAck(ResourceType.CLUSTER).getVersionInfo();
      endpoints = onFirst.requestResponseAck(ResourceType.ENDPOINT, "a").getVersionInfo();
    }

    try (var onSecond = AdsTestClient.Sotw.connect(second.channel, envoyNode("envoy-1", "node-1"))) {
      onSecond.resume(ResourceType.CLUSTER, clusters);
      onSecond.resume(ResourceType.ENDPOINT, endpoints, "a");
      onSecond.resume(ResourceType.LISTENER, "an-outdated-version");

      DiscoveryResponse listeners = onSecond.awaitResponse(ResourceType.LISTENER);
      assertThat(listeners.getResourcesCount()).isEqualTo(1);
      onSecond.ack(listeners);
      onSecond.expectNoResponse();
      await().untilAsserted(
          () -> assertThat(second.client("envoy-1").orElseThrow().getTypesList())
              .hasSize(3)
              .allSatisfy(type -> assertThat(type.getState()).isEqualTo(SyncState.SYNCED)));

      second.put(endpoints("a", "10.0.0.7", 80));
      assertThat(onSecond.awaitResponse(ResourceType.ENDPOINT).getResourcesCount()).isEqualTo(1);
    }
  }

  @Test
  void aDeltaClientMovingToAnotherReplicaWithItsVersionsReceivesNothing() {
    sameStateDifferentHistory();
    Map<String, String> clusters;
    Map<String, String> endpoints;
    Map<String, String> listeners;
    try (var onFirst = AdsTestClient.Delta.connect(first.channel, envoyNode("envoy-1", "node-1"))) {
      onFirst.subscribeResponseAck(ResourceType.CLUSTER);
      onFirst.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      onFirst.subscribeResponseAck(ResourceType.LISTENER);
      clusters = onFirst.held(ResourceType.CLUSTER);
      endpoints = onFirst.held(ResourceType.ENDPOINT);
      listeners = onFirst.held(ResourceType.LISTENER);
    }
    assertThat(clusters).hasSize(2);

    try (var onSecond = AdsTestClient.Delta.connect(second.channel, envoyNode("envoy-1", "node-1"))) {
      onSecond.resume(ResourceType.CLUSTER, clusters);
      onSecond.resume(ResourceType.ENDPOINT, endpoints, "a");
      onSecond.resume(ResourceType.LISTENER, listeners);

      onSecond.expectNoResponse();
      await().untilAsserted(
          () -> assertThat(second.client("envoy-1").orElseThrow().getTypesList())
              .hasSize(3)
              .allSatisfy(type -> assertThat(type.getState()).isEqualTo(SyncState.SYNCED)));
      assertThat(second.xds.metrics().pushes().values()).allSatisfy(count -> assertThat(count).isZero());
    }
  }
}
