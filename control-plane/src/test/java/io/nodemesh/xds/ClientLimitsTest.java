package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Per-client limits: streams per address, subscribed names per stream, request rate per stream, request size.
 * Each rejection carries a status and a message naming the flag, and is counted.
 */
class ClientLimitsTest {

  private LoopbackXdsServer server;

  @AfterEach
  void close() {
    server.close();
  }

  private void start(XdsServerOptions options, int maxRequestBytes) {
    server = new LoopbackXdsServer(options, XdsEventListener.NONE, maxRequestBytes, null);
    server.apply(UpdateBatch.builder()
        .put(endpoints("a", "10.0.0.1", 80))
        .put(endpoints("b", "10.0.0.2", 80))
        .build());
  }

  private long limited(XdsMetrics.Limit limit) {
    return server.xds.metrics().limits().get(limit);
  }

  @Test
  void aStreamBeyondTheLimitOfItsAddressIsRefusedAndAdmittedOnceAnotherCloses() {
    start(XdsServerOptions.DEFAULTS.withStreamsPerAddress(3, false), 4 * 1024 * 1024);
    ManagedChannel node = server.channelFrom("127.0.0.5");
    List<AdsTestClient.Delta> open = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      AdsTestClient.Delta client = AdsTestClient.Delta.connect(node, envoyNode("envoy-" + i, "node-1"));
      client.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      open.add(client);
    }

    try (var fourth = AdsTestClient.Delta.connect(node, envoyNode("envoy-3", "node-1"));
        var elsewhere = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.6"), envoyNode("envoy-9", "node-2"))) {
      Status status = Status.fromThrowable(fourth.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).isEqualTo(
          "too many xDS streams from 127.0.0.5: the limit is 3 per client address (--xds-max-streams-per-address)");
      assertThat(limited(XdsMetrics.Limit.STREAMS_PER_ADDRESS)).isEqualTo(1);
      elsewhere.subscribeResponseAck(ResourceType.ENDPOINT, "a");
    }

    open.remove(0).close();
    await().until(() -> server.xds.connectedStreams() == 2);
    try (var replacement = AdsTestClient.Delta.connect(node, envoyNode("envoy-4", "node-1"))) {
      replacement.subscribeResponseAck(ResourceType.ENDPOINT, "b");
    }
    open.forEach(AdsTestClient::close);
  }

  @Test
  void loopbackClientsAreExemptFromTheAddressLimitWhenConfigured() {
    start(XdsServerOptions.DEFAULTS.withStreamsPerAddress(1, true), 4 * 1024 * 1024);
    ManagedChannel local = server.channelFrom("127.0.0.1");
    try (var first = AdsTestClient.Delta.connect(local, envoyNode("sim-1", "node-1"));
        var second = AdsTestClient.Delta.connect(local, envoyNode("sim-2", "node-2"))) {
      first.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      second.subscribeResponseAck(ResourceType.ENDPOINT, "a");
    }
  }

  @Test
  void subscribingToMoreNamesThanAllowedEndsTheStreamWithResourceExhausted() {
    start(XdsServerOptions.DEFAULTS.withMaxSubscribedNames(5), 4 * 1024 * 1024);
    try (var greedy = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.5"), envoyNode("envoy-1", "node-1"))) {
      greedy.subscribeResponseAck(ResourceType.ENDPOINT, "a", "b", "c");

      greedy.subscribe(ResourceType.ROUTE, "r1", "r2", "r3");

      Status status = Status.fromThrowable(greedy.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).isEqualTo(
          "subscribed to 6 resource names, more than the limit of 5 per stream (--xds-max-subscribed-names)");
      assertThat(limited(XdsMetrics.Limit.SUBSCRIBED_NAMES)).isEqualTo(1);
      assertThat(server.clients()).isEmpty();
    }
  }

  @Test
  void aClientSendingFasterThanItsRateIsReadMoreSlowlyButStaysConnected() {
    start(XdsServerOptions.DEFAULTS.withRequestRate(20, 5), 4 * 1024 * 1024);
    try (var chatty = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.5"), envoyNode("envoy-1", "node-1"))) {
      chatty.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      long start = System.nanoTime();
      for (int i = 0; i < 25; i++) {
        chatty.sendRaw(DeltaDiscoveryRequest.newBuilder().setTypeUrl("type.googleapis.com/flood." + i).build());
      }

      await().atMost(Duration.ofSeconds(20)).until(() ->
          server.xds.metrics().badRequests().get(XdsMetrics.BadRequest.UNKNOWN_TYPE_URL) == 25);

      long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
      // the bucket held at most 5 tokens after the first requests; 20 more at 20/s take about a second
      assertThat(elapsedMillis).isGreaterThanOrEqualTo(800);
      assertThat(limited(XdsMetrics.Limit.REQUEST_RATE)).isPositive();
      chatty.subscribe(ResourceType.ENDPOINT, "b");
      assertThat(AdsTestClient.Delta.resourceNames(chatty.awaitResponse(ResourceType.ENDPOINT))).containsExactly("b");
    }
  }

  @Test
  void aRequestLargerThanTheMaximumEndsItsStreamWithResourceExhaustedAndIsCounted() {
    start(XdsServerOptions.DEFAULTS, 64 * 1024);
    try (var huge = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.5"), envoyNode("envoy-1", "node-1"))) {
      huge.subscribe(ResourceType.ENDPOINT, "x".repeat(100 * 1024));

      Status status = Status.fromThrowable(huge.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).contains("exceeds maximum").contains("65536");
      await().until(() -> limited(XdsMetrics.Limit.MESSAGE_SIZE) == 1);
    }
  }
}
