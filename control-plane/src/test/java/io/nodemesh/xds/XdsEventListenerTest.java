package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class XdsEventListenerTest {

  private final List<String> events = new CopyOnWriteArrayList<>();
  private final XdsTestServer server =
      new XdsTestServer(
          new XdsEventListener() {
            @Override
            public void onAck(NodeIdentity client, ResourceType type, long generation) {
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
