package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.nodemesh.api.agent.NodePinsRpc;
import io.nodemesh.api.agent.v1.EnvoyListeners;
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.api.agent.v1.PinReport;
import io.nodemesh.api.agent.v1.PinReportReply;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class NodePinServiceTest {

  private static final String UID_A = "0a0b0c0d-0000-4000-8000-00000000000a";
  private static final String UID_B = "0a0b0c0d-0000-4000-8000-00000000000b";

  /**
   * Token "node-1" or "node-2" gets that node, whatever the caller claims; the test's Envoys (no token) get the
   * node they claim; anything else is denied.
   */
  private static final ClientAuthorizer BY_TOKEN = client -> CompletableFuture.completedFuture(
      client.bearerToken().filter(token -> token.startsWith("node-"))
          .map(token -> Authorization.node(token, "token", "token of " + token))
          .orElseGet(() -> client.bearerToken().isEmpty() && client.claimed().nodeId().startsWith("envoy-")
              ? Authorization.node(client.claimed().nodeName(), "test_envoy", "test Envoy")
              : Authorization.denied("no_token", "no valid token")));

  private final Map<String, List<Pin>> received = new ConcurrentHashMap<>();
  private final XdsTestServer server =
      new XdsTestServer(XdsEventListener.NONE, Clock.systemUTC(), XdsServerOptions.DEFAULTS.withAuthorizer(BY_TOKEN));
  private final Server pins;
  private final ManagedChannel channel;

  NodePinServiceTest() throws IOException {
    String name = InProcessServerBuilder.generateName();
    pins = InProcessServerBuilder.forName(name).directExecutor()
        .addService(server.xds.pinService(received::put, pin -> "pod/" + pin.getNamespace() + "/" + pin.getName()
            + "/outbound"))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void close() {
    channel.shutdownNow();
    pins.shutdownNow();
    server.close();
  }

  private PinReportReply report(String token, String claimedNode, Pin... reported) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return ClientCalls.blockingUnaryCall(
        io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers)),
        NodePinsRpc.REPORT, io.grpc.CallOptions.DEFAULT,
        PinReport.newBuilder().setNodeName(claimedNode).setAgentId("agent").addAllPins(List.of(reported)).build());
  }

  private static Pin pin(String uid, String name, boolean releasing) {
    return Pin.newBuilder().setPodUid(uid).setNamespace("default").setName(name).addIps("10.0.0.7")
        .setReleasing(releasing).build();
  }

  @Test
  void aReportIsAppliedToTheNodeTheCallerIsAuthorizedForNotTheOneItClaims() {
    report("node-1", "node-2", pin(UID_A, "p", false));

    assertThat(received).containsOnlyKeys("node-1");
    assertThat(received.get("node-1")).extracting(Pin::getPodUid).containsExactly(UID_A);
    assertThat(server.xds.metrics().pinReports()).containsEntry("accepted", 1L);
  }

  @Test
  void anUnauthorizedOrMalformedReportIsRefusedAndKeepsNothing() {
    assertThatThrownBy(() -> report("stranger", "node-1", pin(UID_A, "p", false)))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    Pin notAUid = pin("../../etc", "p", false);
    assertThatThrownBy(() -> report("node-1", "node-1", notAUid))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("pins[0].pod_uid is not a lower-case UUID"));
    Pin badIp = pin(UID_A, "p", false).toBuilder().addIps("10.0.0.1; rm -rf /").build();
    assertThatThrownBy(() -> report("node-1", "node-1", badIp))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThatThrownBy(() -> report("node-1", "node-1", pin(UID_A, "p", false), pin(UID_A, "q", false)))
        .hasMessageContaining("reported twice");

    assertThat(received).isEmpty();
    assertThat(server.xds.metrics().pinReports())
        .containsEntry("no_token", 1L).containsEntry("invalid", 3L).doesNotContainKey("accepted");
  }

  @Test
  void theReplyTellsWhichListenersEachEnvoyOfTheNodeHasAckedAndWhichItDoesNotHold() {
    server.apply(UpdateBatch.builder()
        .put(cluster("a"))
        .put(listener("pod/default/p/outbound", "a"))
        .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a"))
        .build());
    // no Envoy connected: nobody holds anything
    assertThat(report("node-1", "node-1", pin(UID_A, "p", false)).getEnvoysList()).isEmpty();

    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"));
        var otherNode = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-9", "node-2"))) {
      envoy.subscribeResponseAck(ResourceType.LISTENER);
      otherNode.subscribeResponseAck(ResourceType.LISTENER);
      server.awaitSynced("envoy-1", ResourceType.LISTENER);

      await().untilAsserted(() -> {
        PinReportReply reply = report("node-1", "node-1", pin(UID_A, "p", false), pin(UID_B, "gone", true));
        assertThat(reply.getEnvoysList()).singleElement().satisfies(held -> {
          assertThat(held.getEnvoyId()).isEqualTo("envoy-1");
          assertThat(held.getPresentPodUidsList()).containsExactly(UID_A);
          assertThat(held.getAbsentPodUidsList()).containsExactly(UID_B);
        });
      });

      // the listener goes; once the Envoy ACKed its removal, the pod is absent there
      server.apply(UpdateBatch.builder().remove(ResourceType.LISTENER, "pod/default/p/outbound")
          .putNode("node-1", Set.of(), Set.of("a")).build());
      envoy.ack(envoy.awaitResponse(ResourceType.LISTENER));
      await().untilAsserted(() -> assertThat(report("node-1", "node-1", pin(UID_A, "p", true)).getEnvoysList())
          .singleElement().extracting(EnvoyListeners::getAbsentPodUidsList).asList().containsExactly(UID_A));
    }
  }
}
