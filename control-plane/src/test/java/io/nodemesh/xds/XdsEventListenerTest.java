package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class XdsEventListenerTest {

  private final List<String> events = new CopyOnWriteArrayList<>();
  private final Map<String, List<Long>> causesByNode = new ConcurrentHashMap<>();
  private final XdsTestServer server =
      new XdsTestServer(
          new XdsEventListener() {
            @Override
            public void onAck(NodeIdentity client, ResourceType type, long generation, List<Long> causes) {
              causesByNode.computeIfAbsent(client.nodeName() + " " + type.shortName(), k -> new CopyOnWriteArrayList<>())
                  .addAll(causes);
              events.add("ACK " + client.nodeName() + " " + type.shortName() + " " + generation);
            }

            @Override
            public void onNack(NodeIdentity client, ResourceType type, long generation, String error) {
              events.add("NACK " + client.nodeName() + " " + type.shortName() + " " + generation + " " + error);
            }
          },
          Clock.systemUTC());

  @AfterEach
  void close() {
    server.close();
  }

  @Test
  void anAckNamesAsCausesOnlyTheGenerationsThatChangedThatClientsResources() {
    server.apply(UpdateBatch.builder().put(cluster("a")).put(cluster("b"))
        .put(listener("pod/default/one/outbound", "a")).put(listener("pod/default/two/outbound", "a"))
        .putNode("node-1", Set.of("pod/default/one/outbound"), Set.of("a"))
        .putNode("node-2", Set.of("pod/default/two/outbound"), Set.of("a")).build());
    try (var one = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"));
        var two = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-2", "node-2"))) {
      one.subscribeResponseAck(ResourceType.LISTENER);
      two.subscribeResponseAck(ResourceType.LISTENER);
      List<Long> changesOfTwo = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        // churn on node-2 only: its pod's listener changes back and forth
        changesOfTwo.add(server.put(listener("pod/default/two/outbound", i % 2 == 0 ? "b" : "a")).generation());
        two.ack(two.awaitResponse(ResourceType.LISTENER));
      }
      long changeOfOne = server.put(listener("pod/default/one/outbound", "b")).generation();
      one.ack(one.awaitResponse(ResourceType.LISTENER));
      server.awaitSynced("envoy-1", ResourceType.LISTENER);
      server.awaitSynced("envoy-2", ResourceType.LISTENER);

      assertThat(causesByNode.get("node-1 LDS")).containsExactly(changeOfOne);
      assertThat(causesByNode.get("node-2 LDS")).containsExactlyElementsOf(changesOfTwo);
      one.expectNoResponse();
    }
  }

  @Test
  void acksAndNacksReachTheListenerWithTheGenerationTheResponseWasBuiltFrom() {
    long first = server.put(endpoints("a", "10.0.0.1", 80)).generation();
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "a");
      long second = server.put(endpoints("a", "10.0.0.2", 80)).generation();
      envoy.nack(envoy.awaitResponse(ResourceType.ENDPOINT), "bad endpoint");

      await().untilAsserted(
          () -> assertThat(events)
              .containsExactly("ACK node-1 EDS " + first, "NACK node-1 EDS " + second + " bad endpoint"));
    }
  }
}
