package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.TypeStatus;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** After a NACK the server parks the type: nothing more until that content changes, never a resend loop. */
class NackParkingTest {

  private static final Duration ONE_SECOND = Duration.ofSeconds(1);

  private final XdsTestServer server = new XdsTestServer();

  @AfterEach
  void close() {
    server.close();
  }

  private void nodeWithOneListener() {
    server.apply(
        UpdateBatch.builder()
            .put(cluster("c"))
            .put(endpoints("c", "10.0.0.1", 80))
            .put(listener("pod/default/p/outbound", "c"))
            .put(listener("pod/default/other/outbound", "c"))
            .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("c"))
            .putNode("node-2", Set.of("pod/default/other/outbound"), Set.of("c"))
            .build());
  }

  @Test
  void afterASotwNackTheServerSendsNothingForASecondThenSendsOnceTheContentChanges() {
    nodeWithOneListener();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.CLUSTER);
      envoy.request(ResourceType.LISTENER);
      DiscoveryResponse rejected = envoy.awaitResponse(ResourceType.LISTENER);

      envoy.nack(rejected, "listener pod/default/p/outbound: bad filter chain");
      // unrelated churn and an identical re-put of the rejected listener must not wake the stream
      server.put(listener("pod/default/other/outbound", "c", 15009));
      server.put(listener("pod/default/p/outbound", "c"));

      assertThat(envoy.responsesWithin(ONE_SECOND)).isEmpty();
      TypeStatus status = server.typeStatus("envoy-1", ResourceType.LISTENER).orElseThrow();
      assertThat(status.getState()).isEqualTo(SyncState.NACKED);
      assertThat(status.getNackError()).contains("bad filter chain");
      assertThat(server.xds.metrics().nacks().get(ResourceType.LISTENER)).isEqualTo(1);

      server.put(listener("pod/default/p/outbound", "c", 15002));

      DiscoveryResponse fixed = envoy.awaitResponse(ResourceType.LISTENER);
      assertThat(fixed.getVersionInfo()).isNotEqualTo(rejected.getVersionInfo());
      envoy.ack(fixed);
      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.LISTENER).orElseThrow().getState())
              .isEqualTo(SyncState.SYNCED));
    }
  }

  @Test
  void afterADeltaNackTheServerSendsNothingForASecondThenSendsOnceTheContentChanges() {
    nodeWithOneListener();
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      DeltaDiscoveryResponse rejected = envoy.awaitResponse(ResourceType.LISTENER);

      envoy.nack(rejected, "rejected");
      server.put(listener("pod/default/p/outbound", "c"));

      assertThat(envoy.responsesWithin(ONE_SECOND)).isEmpty();
      assertThat(server.typeStatus("envoy-1", ResourceType.LISTENER).orElseThrow().getState()).isEqualTo(SyncState.NACKED);

      server.put(listener("pod/default/p/outbound", "c", 15002));

      DeltaDiscoveryResponse fixed = envoy.awaitResponse(ResourceType.LISTENER);
      assertThat(AdsTestClient.Delta.resourceNames(fixed)).containsExactly("pod/default/p/outbound");
    }
  }

  @Test
  void aNackParksOnlyItsOwnTypeWhileOtherTypesKeepFlowing() {
    nodeWithOneListener();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.request(ResourceType.CLUSTER);
      envoy.nack(envoy.awaitResponse(ResourceType.CLUSTER), "no");
      envoy.requestResponseAck(ResourceType.ENDPOINT, "c");

      server.put(endpoints("c", "10.0.0.2", 80));

      DiscoveryResponse endpoints = envoy.awaitResponse(ResourceType.ENDPOINT);
      assertThat(endpoints.getResourcesCount()).isEqualTo(1);
      envoy.ack(endpoints);
      envoy.expectNoResponse();
      assertThat(server.typeStatus("envoy-1", ResourceType.CLUSTER).orElseThrow().getState()).isEqualTo(SyncState.NACKED);
    }
  }
}
