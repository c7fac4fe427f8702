package io.nodemesh.xds;

import static io.nodemesh.xds.AdsTestClient.nameOf;
import static io.nodemesh.xds.TestResources.apiListener;
import static io.nodemesh.xds.TestResources.bareNode;
import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static io.nodemesh.xds.TestResources.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.api.envoy.EnvoyValidator;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SotwProtocolTest {

  private final XdsTestServer server = new XdsTestServer();

  @AfterEach
  void close() {
    server.close();
  }

  private void twoNodesWithListenersAndSharedCluster() {
    server.apply(
        UpdateBatch.builder()
            .put(cluster("svc/default/echo/8080"))
            .put(endpoints("svc/default/echo/8080", "10.0.0.1", 8080))
            .put(listener("pod/default/a/outbound", "svc/default/echo/8080"))
            .put(listener("pod/default/b/outbound", "svc/default/echo/8080"))
            .putNode("node-1", Set.of("pod/default/a/outbound"), Set.of("svc/default/echo/8080"))
            .putNode("node-2", Set.of("pod/default/b/outbound"), Set.of("svc/default/echo/8080"))
            .build());
  }

  private static List<String> names(DiscoveryResponse response) {
    return response.getResourcesList().stream().map(AdsTestClient::nameOf).toList();
  }

  @Test
  void aWildcardListenerRequestReceivesExactlyItsNodesListeners() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      DiscoveryResponse response = envoy.requestResponseAck(ResourceType.LISTENER);

      assertThat(names(response)).containsExactly("pod/default/a/outbound");
      assertThat(response.getVersionInfo()).hasSize(16);
      response.getResourcesList().forEach(any -> EnvoyValidator.requireValid(AdsStreamTestSupport.unpack(any)));
    }
  }

  @Test
  void aNodeWithNothingYetStillGetsAnEmptyFirstListenerAndClusterResponse() {
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "empty-node"))) {
      assertThat(envoy.requestResponseAck(ResourceType.CLUSTER).getResourcesCount()).isZero();
      assertThat(envoy.requestResponseAck(ResourceType.LISTENER).getResourcesCount()).isZero();
    }
  }

  @Test
  void anExplicitStarIsAWildcardToo() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      assertThat(names(envoy.requestResponseAck(ResourceType.CLUSTER, "*"))).containsExactly("svc/default/echo/8080");
    }
  }

  @Test
  void endpointsAreSentOnlyForTheRequestedNames() {
    server.put(endpoints("a", "10.0.0.1", 80), endpoints("b", "10.0.0.2", 80), endpoints("c", "10.0.0.3", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      assertThat(names(envoy.requestResponseAck(ResourceType.ENDPOINT, "a", "c"))).containsExactlyInAnyOrder("a", "c");
    }
  }

  @Test
  void changingOneEndpointSendsOnlyThatEndpointAndOnlyToItsSubscribers() {
    server.put(endpoints("a", "10.0.0.1", 80), endpoints("b", "10.0.0.2", 80));
    try (var ab = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"));
        var b = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-2", "node-2"))) {
      ab.requestResponseAck(ResourceType.ENDPOINT, "a", "b");
      b.requestResponseAck(ResourceType.ENDPOINT, "b");

      server.put(endpoints("a", "10.0.0.9", 80));

      DiscoveryResponse update = ab.awaitResponse(ResourceType.ENDPOINT);
      assertThat(names(update)).containsExactly("a");
      ab.ack(update);
      b.expectNoResponse();
    }
  }

  @Test
  void aStreamWhoseViewDoesNotContainTheChangeGetsNothing() {
    twoNodesWithListenersAndSharedCluster();
    try (var one = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"));
        var two = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-2", "node-2"))) {
      one.requestResponseAck(ResourceType.LISTENER);
      two.requestResponseAck(ResourceType.LISTENER);

      server.put(listener("pod/default/b/outbound", "svc/default/echo/8080", 15002));

      assertThat(names(two.awaitResponse(ResourceType.LISTENER))).containsExactly("pod/default/b/outbound");
      one.expectNoResponse();
    }
  }

  @Test
  void reputtingIdenticalContentSendsNothing() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.LISTENER);

      server.put(listener("pod/default/a/outbound", "svc/default/echo/8080"));

      envoy.expectNoResponse();
    }
  }

  @Test
  void twoEnvoysOfOneNodeBothGetThatNodesViewWithTheSameVersion() {
    twoNodesWithListenersAndSharedCluster();
    try (var old = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-old", "node-1"));
        var fresh = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-new", "node-1"))) {
      DiscoveryResponse first = old.requestResponseAck(ResourceType.LISTENER);
      DiscoveryResponse second = fresh.requestResponseAck(ResourceType.LISTENER);

      assertThat(names(second)).isEqualTo(names(first));
      assertThat(second.getVersionInfo()).isEqualTo(first.getVersionInfo());
    }
  }

  @Test
  void withoutNodeNameMetadataTheNodeIdNamesTheView() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, bareNode("node-2"))) {
      assertThat(names(envoy.requestResponseAck(ResourceType.LISTENER))).containsExactly("pod/default/b/outbound");
      assertThat(server.client("node-2").orElseThrow().getKind()).isEqualTo("envoy");
    }
  }

  @Test
  void aClientNamingListenersWithoutNodeNameIsReportedAsProxyless() {
    server.put(apiListener("echo.default.svc.cluster.local:8080", "svc/default/echo/8080"));
    try (var grpc = AdsTestClient.Sotw.connect(server.channel, bareNode("grpc-client-1"))) {
      DiscoveryResponse response = grpc.requestResponseAck(ResourceType.LISTENER, "echo.default.svc.cluster.local:8080");

      assertThat(names(response)).containsExactly("echo.default.svc.cluster.local:8080");
      ClientStatus status = server.client("grpc-client-1").orElseThrow();
      assertThat(status.getKind()).isEqualTo("proxyless");
      assertThat(status.getProtocol()).isEqualTo("sotw");
    }
  }

  @Test
  void clusterRemovalWaitsUntilTheListenerUsingItIsGone() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.CLUSTER);
      envoy.requestResponseAck(ResourceType.LISTENER);

      server.apply(
          UpdateBatch.builder()
              .remove(ResourceType.LISTENER, "pod/default/a/outbound")
              .remove(ResourceType.CLUSTER, "svc/default/echo/8080")
              .putNode("node-1", Set.of(), Set.of())
              .build());

      DiscoveryResponse clustersKept = envoy.awaitResponse(ResourceType.CLUSTER);
      DiscoveryResponse listenersGone = envoy.awaitResponse(ResourceType.LISTENER);
      DiscoveryResponse clustersGone = envoy.awaitResponse(ResourceType.CLUSTER);
      assertThat(names(clustersKept)).containsExactly("svc/default/echo/8080");
      assertThat(listenersGone.getResourcesList()).isEmpty();
      assertThat(clustersGone.getResourcesList()).isEmpty();
      assertThat(clustersGone.getVersionInfo()).isNotEqualTo(clustersKept.getVersionInfo());
    }
  }

  @Test
  void additionsArriveClustersThenEndpointsThenListenersThenRoutes() {
    server.apply(UpdateBatch.builder().putNode("node-1", Set.of(), Set.of()).build());
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.CLUSTER);
      envoy.requestResponseAck(ResourceType.LISTENER);
      envoy.request(ResourceType.ENDPOINT, "svc/default/web/80");
      envoy.request(ResourceType.ROUTE, "svc/default/web/80");
      envoy.expectNoResponse();

      server.apply(
          UpdateBatch.builder()
              .put(route("svc/default/web/80", "svc/default/web/80"))
              .put(listener("pod/default/a/outbound", "svc/default/web/80"))
              .put(endpoints("svc/default/web/80", "10.0.0.1", 80))
              .put(cluster("svc/default/web/80"))
              .putNode("node-1", Set.of("pod/default/a/outbound"), Set.of("svc/default/web/80"))
              .build());

      List<String> order =
          envoy.responsesWithin(Duration.ofMillis(500)).stream().map(DiscoveryResponse::getTypeUrl).toList();
      assertThat(order)
          .containsExactly(
              ResourceType.CLUSTER.typeUrl(),
              ResourceType.ENDPOINT.typeUrl(),
              ResourceType.LISTENER.typeUrl(),
              ResourceType.ROUTE.typeUrl());
    }
  }

  @Test
  void unsubscribingFromAllEndpointsStopsEndpointPushes() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.ENDPOINT, "a");
      envoy.request(ResourceType.ENDPOINT);
      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.ENDPOINT).orElseThrow().getSubscribedNames()).isZero());

      server.put(endpoints("a", "10.0.0.2", 80));

      envoy.expectNoResponse();
    }
  }

  @Test
  void anAckMarksTheTypeSyncedWithTheSentVersion() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      DiscoveryResponse response = envoy.requestResponseAck(ResourceType.CLUSTER);

      await().untilAsserted(() -> {
        TypeStatus status = server.typeStatus("envoy-1", ResourceType.CLUSTER).orElseThrow();
        assertThat(status.getState()).isEqualTo(SyncState.SYNCED);
        assertThat(status.getSentVersion()).isEqualTo(response.getVersionInfo());
        assertThat(status.getAckedVersion()).isEqualTo(response.getVersionInfo());
        assertThat(status.getSentNonce()).isEqualTo(response.getNonce());
        assertThat(status.getAckedGeneration()).isEqualTo(server.store.snapshot().generation());
        assertThat(status.getResourceCount()).isEqualTo(1);
      });
      ClientStatus client = server.client("envoy-1").orElseThrow();
      assertThat(client.getNodeName()).isEqualTo("node-1");
      assertThat(client.getPeer()).isNotEmpty();
      assertThat(client.hasConnectedAt()).isTrue();
      assertThat(client.getConnectedAt().getSeconds()).isPositive();
      assertThat(server.xds.metrics().acks().get(ResourceType.CLUSTER)).isEqualTo(1);
    }
  }

  @Test
  void aSentButUnackedTypeIsReportedStale() {
    twoNodesWithListenersAndSharedCluster();
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.request(ResourceType.CLUSTER);
      envoy.awaitResponse(ResourceType.CLUSTER);

      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.CLUSTER).orElseThrow().getState()).isEqualTo(SyncState.STALE));
    }
  }

  @Test
  void noncesAreUniqueWithinAStream() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      Set<String> nonces = new HashSet<>();
      nonces.add(envoy.requestResponseAck(ResourceType.CLUSTER).getNonce());
      nonces.add(envoy.requestResponseAck(ResourceType.LISTENER).getNonce());
      nonces.add(envoy.requestResponseAck(ResourceType.ENDPOINT, "a").getNonce());
      for (int port = 81; port < 85; port++) {
        server.put(endpoints("a", "10.0.0.1", port));
        DiscoveryResponse update = envoy.awaitResponse(ResourceType.ENDPOINT);
        envoy.ack(update);
        nonces.add(update.getNonce());
      }
      assertThat(nonces).hasSize(7);
    }
  }

  @Test
  void aRequestAnsweringASupersededResponseIsIgnoredAndCounted() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      DiscoveryResponse first = envoy.requestResponseAck(ResourceType.ENDPOINT, "a");
      server.awaitSynced("envoy-1", ResourceType.ENDPOINT);
      server.put(endpoints("a", "10.0.0.1", 81));
      DiscoveryResponse second = envoy.awaitResponse(ResourceType.ENDPOINT);

      // an ACK of the first response again, e.g. delayed in flight: its nonce is no longer current
      envoy.ack(first);

      await().untilAsserted(() -> assertThat(server.xds.metrics().staleNonces()).isEqualTo(1));
      assertThat(server.typeStatus("envoy-1", ResourceType.ENDPOINT).orElseThrow().getState()).isEqualTo(SyncState.STALE);
      envoy.ack(second);
      await().untilAsserted(
          () -> assertThat(server.typeStatus("envoy-1", ResourceType.ENDPOINT).orElseThrow().getAckedVersion())
              .isEqualTo(second.getVersionInfo()));
    }
  }

  @Test
  void subscribingToMoreEndpointsSendsOnlyTheNewOnes() {
    server.put(endpoints("a", "10.0.0.1", 80), endpoints("b", "10.0.0.2", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.requestResponseAck(ResourceType.ENDPOINT, "a");

      DiscoveryResponse more = envoy.requestResponseAck(ResourceType.ENDPOINT, "a", "b");

      assertThat(more.getResourcesList()).extracting(AdsTestClient::nameOf).containsExactly("b");
      assertThat(nameOf(more.getResources(0))).isEqualTo("b");
    }
  }
}
