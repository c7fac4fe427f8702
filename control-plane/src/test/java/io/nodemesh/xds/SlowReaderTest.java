package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client that stops reading must not make the server queue: pending work per stream is a bit per type,
 * and when the client reads again it gets the latest content once, not every intermediate version.
 */
class SlowReaderTest {

  private static final int UPDATES = 300;

  private final XdsTestServer server = new XdsTestServer();

  @AfterEach
  void close() {
    server.close();
  }

  @Test
  void aDeltaClientThatNeverReadsLeavesAtMostOnePendingBitPerTypeAndThenGetsOnlyTheLatest() {
    server.put(endpoints("a", "10.0.0.1", 1));
    try (var slow = AdsTestClient.Delta.connect(server.channel, envoyNode("slow", "node-1"), 0);
        var fast = AdsTestClient.Delta.connect(server.channel, envoyNode("fast", "node-2"))) {
      slow.subscribe(ResourceType.ENDPOINT, "a");
      fast.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      await().until(() -> server.xds.connectedStreams() == 2);
      AdsStream<?, ?> stream = server.stream("slow");

      for (int port = 2; port <= UPDATES; port++) {
        server.put(endpoints("a", "10.0.0.1", port));
        assertThat(stream.pendingTypes()).isLessThanOrEqualTo(1);
        // the fast client on the same server keeps receiving every update
        fast.ack(fast.awaitResponse(ResourceType.ENDPOINT));
      }
      assertThat(slow.queued()).isZero();

      slow.requestMore(100);

      DeltaDiscoveryResponse latest = slow.awaitResponse(ResourceType.ENDPOINT);
      assertThat(latest.getResources(0).getVersion())
          .isEqualTo(Resource.of(endpoints("a", "10.0.0.1", UPDATES)).version());
      slow.expectNoResponse();
      assertThat(stream.pendingTypes()).isZero();
    }
  }

  @Test
  void aSplitDeltaPushIsWrittenOnlyAsFastAsTheClientReadsIt() {
    int resources = 10;
    int[] ports = java.util.stream.IntStream.rangeClosed(1, 40_000).toArray();
    String[] names = new String[resources];
    for (int i = 0; i < resources; i++) {
      names[i] = "big-" + i;
      server.put(endpoints(names[i], "10.0.0." + (i + 1), ports));
    }
    try (var slow = AdsTestClient.Delta.connect(server.channel, envoyNode("slow", "node-1"), 1)) {
      slow.subscribe(ResourceType.ENDPOINT, names);
      DeltaDiscoveryResponse first = slow.awaitResponse(ResourceType.ENDPOINT);
      assertThat(first.getResourcesCount()).as("about 1 MB each: a 4 MiB response holds a few").isBetween(1, 4);
      // the client asked for one message: the other parts wait in the server as references, not as responses
      slow.expectNoResponse();
      assertThat(server.xds.metrics().pushes().get(ResourceType.ENDPOINT)).isEqualTo(1L);
      assertThat(server.xds.metrics().pausedSends()).isPositive();

      slow.requestMore(100);
      java.util.Set<String> received = new java.util.TreeSet<>(AdsTestClient.Delta.resourceNames(first));
      while (received.size() < resources) {
        received.addAll(AdsTestClient.Delta.resourceNames(slow.awaitResponse(ResourceType.ENDPOINT)));
      }
      assertThat(received).containsExactlyInAnyOrder(names);
      slow.expectNoResponse();
      assertThat(server.xds.metrics().splitResponses()).isEqualTo(1L);
    }
  }

  @Test
  void aSotwClientThatNeverReadsGetsOneResponsePerTypeWhenItResumes() {
    server.put(endpoints("a", "10.0.0.1", 1), endpoints("b", "10.0.0.1", 1));
    try (var slow = AdsTestClient.Sotw.connect(server.channel, envoyNode("slow", "node-1"), 0)) {
      slow.request(ResourceType.ENDPOINT, "a", "b");
      slow.request(ResourceType.CLUSTER);
      await().until(() -> server.xds.connectedStreams() == 1);
      AdsStream<?, ?> stream = server.stream("slow");

      for (int port = 2; port <= UPDATES; port++) {
        server.put(endpoints(port % 2 == 0 ? "a" : "b", "10.0.0.1", port));
        assertThat(stream.pendingTypes()).isLessThanOrEqualTo(2);
      }

      slow.requestMore(100);

      List<DiscoveryResponse> responses = List.of(slow.awaitResponse(), slow.awaitResponse());
      assertThat(responses).extracting(DiscoveryResponse::getTypeUrl)
          .containsExactly(ResourceType.CLUSTER.typeUrl(), ResourceType.ENDPOINT.typeUrl());
      assertThat(responses.get(1).getResourcesCount()).isEqualTo(2);
      slow.expectNoResponse();
    }
  }
}
