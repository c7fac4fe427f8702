package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.rpc.Status;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Status.Code;
import io.nodemesh.xds.XdsMetrics.BadRequest;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Misbehaving clients get a log line and a counter; the server and every other stream carry on. */
class BadInputTest {

  private final XdsTestServer server = new XdsTestServer();

  @AfterEach
  void close() {
    server.close();
  }

  private long bad(BadRequest reason) {
    return server.xds.metrics().badRequests().get(reason);
  }

  @Test
  void aGarbageTypeUrlIsCountedAndTheStreamCarriesOn() {
    server.put(cluster("c"));
    server.apply(UpdateBatch.builder().putNode("node-1", Set.of(), Set.of("c")).build());
    try (var sotw = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"));
        var delta = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-2", "node-1"))) {
      sotw.sendRaw(DiscoveryRequest.newBuilder().setNode(sotw.node).setTypeUrl("type.googleapis.com/not.a.Type").build());
      sotw.takeFirst();
      delta.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl("\u0000garbage").addResourceNamesSubscribe("x"));

      assertThat(sotw.requestResponseAck(ResourceType.CLUSTER).getResourcesCount()).isEqualTo(1);
      assertThat(delta.subscribeResponseAck(ResourceType.CLUSTER).getResourcesCount()).isEqualTo(1);
      assertThat(bad(BadRequest.UNKNOWN_TYPE_URL)).isEqualTo(2);
    }
  }

  @Test
  void anUnknownEndpointNameInSotwIsCountedAndAnsweredWithNothing() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.request(ResourceType.ENDPOINT, "missing");
      envoy.expectNoResponse();

      assertThat(server.xds.metrics().unknownResourceNames()).isEqualTo(1);
      assertThat(envoy.requestResponseAck(ResourceType.ENDPOINT, "missing", "a").getResourcesCount()).isEqualTo(1);
    }
  }

  @Test
  void aNackForAResponseNeverSentIsCountedAndIgnored() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");

      envoy.send(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(ResourceType.ENDPOINT.typeUrl())
              .setResponseNonce("4711")
              .setErrorDetail(Status.newBuilder().setCode(3).setMessage("rejected")));
      envoy.send(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(ResourceType.ENDPOINT.typeUrl())
              .setResponseNonce("not-a-nonce")
              .setErrorDetail(Status.newBuilder().setCode(3).setMessage("rejected")));

      await().untilAsserted(() -> assertThat(bad(BadRequest.UNKNOWN_NONCE)).isEqualTo(2));
      assertThat(server.xds.metrics().nacks().get(ResourceType.ENDPOINT)).isZero();
      server.put(endpoints("a", "10.0.0.2", 80));
      assertThat(envoy.awaitResponse(ResourceType.ENDPOINT).getResourcesCount()).isEqualTo(1);
    }
  }

  @Test
  void aRepeatedAckIsAStaleNonceThatIsCountedAndIgnored() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      DeltaDiscoveryResponse response = envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");

      envoy.nack(response, "too late: this response was already ACKed");

      await().untilAsserted(() -> assertThat(server.xds.metrics().staleNonces()).isEqualTo(1));
      assertThat(server.xds.metrics().nacks().get(ResourceType.ENDPOINT)).isZero();
    }
  }

  @Test
  void initialVersionsAfterTheFirstRequestAreCountedAndIgnored() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");

      envoy.send(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(ResourceType.ENDPOINT.typeUrl())
              .putInitialResourceVersions("a", "bogus"));

      await().untilAsserted(() -> assertThat(bad(BadRequest.MALFORMED)).isEqualTo(1));
      envoy.expectNoResponse();
    }
  }

  @Test
  void aFirstRequestWithoutANodeClosesOnlyThatStream() {
    server.put(endpoints("a", "10.0.0.1", 80));
    try (var nameless = AdsTestClient.Sotw.connect(server.channel, envoyNode("ignored", "node-1"));
        var envoy = AdsTestClient.Sotw.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      nameless.takeFirst();
      nameless.sendRaw(DiscoveryRequest.newBuilder().setTypeUrl(ResourceType.ENDPOINT.typeUrl()).addResourceNames("a").build());

      assertThat(io.grpc.Status.fromThrowable(nameless.awaitError()).getCode()).isEqualTo(Code.INVALID_ARGUMENT);
      assertThat(bad(BadRequest.MISSING_NODE)).isEqualTo(1);
      assertThat(envoy.requestResponseAck(ResourceType.ENDPOINT, "a").getResourcesCount()).isEqualTo(1);
    }
  }

  @Test
  void aClientDisconnectingMidResponseIsCountedAndOtherStreamsCarryOn() {
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (int i = 0; i < 5; i++) {
      batch.put(DeltaProtocolTest.bigEndpoints("big-" + i, 1 << 20));
    }
    batch.put(endpoints("small", "10.0.0.1", 80));
    server.apply(batch.build());
    try (var leaving = AdsTestClient.Delta.connect(server.channel, envoyNode("leaving", "node-1"));
        var staying = AdsTestClient.Delta.connect(server.channel, envoyNode("staying", "node-2"))) {
      staying.subscribeResponseAck(ResourceType.ENDPOINT, "small");
      leaving.subscribe(ResourceType.ENDPOINT, "big-0", "big-1", "big-2", "big-3", "big-4");
      leaving.awaitResponse(ResourceType.ENDPOINT);

      // the push is split in two; the client goes away after the first part
      leaving.cancel();

      await().untilAsserted(() -> assertThat(server.xds.metrics().streamsCancelled()).isEqualTo(1));
      await().until(() -> server.xds.connectedStreams() == 1);
      server.put(endpoints("small", "10.0.0.2", 80));
      assertThat(staying.awaitResponse(ResourceType.ENDPOINT).getResourcesCount()).isEqualTo(1);
    }
  }
}
