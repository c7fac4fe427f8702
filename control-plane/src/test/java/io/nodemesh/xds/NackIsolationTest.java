package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.TypeStatus;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Delta NACK isolation: a client that rejects a response carrying several resources gets subsets re-sent
 * until the bad resource is found; the good ones end up applied, the bad one is quarantined for that client
 * until its content changes, and a client that rejects everything cannot make the server loop.
 */
class NackIsolationTest {

  /** Listeners on this port are what the strict test client rejects. */
  static final int FORBIDDEN_PORT = 666;
  static final Duration QUIET = Duration.ofMillis(400);

  private final List<Quarantine.Entry> quarantined = new CopyOnWriteArrayList<>();
  private XdsTestServer server = serverWith(XdsServerOptions.DEFAULTS);

  private XdsTestServer serverWith(XdsServerOptions options) {
    return new XdsTestServer(new XdsEventListener() {
      @Override
      public void onQuarantine(NodeIdentity client, Quarantine.Entry entry) {
        quarantined.add(entry);
      }
    }, Clock.systemUTC(), options);
  }

  @AfterEach
  void close() {
    server.close();
  }

  /** Node node-1 with eight pod listeners; {@code bad} of them listen on the port the client rejects. */
  private void eightListeners(int... bad) {
    UpdateBatch.Builder batch = UpdateBatch.builder().put(cluster("c"));
    Set<String> names = new TreeSet<>();
    Set<Integer> rejected = new TreeSet<>();
    java.util.Arrays.stream(bad).forEach(rejected::add);
    for (int i = 0; i < 8; i++) {
      String name = "pod/default/p" + i + "/outbound";
      names.add(name);
      batch.put(rejected.contains(i) ? TestResources.listener(name, "c", FORBIDDEN_PORT) : listener(name, "c"));
    }
    server.apply(batch.putNode("node-1", names, Set.of("c")).build());
  }

  /**
   * Plays a client that rejects a whole response when any listener in it is on the forbidden port (as
   * grpc-java's xDS client does; Envoy names every bad listener too), until the server is quiet. Returns what
   * the client applied (ACKed), name -> version.
   */
  private static Map<String, String> answerLikeAStrictClient(
      AdsTestClient.Delta client, List<DeltaDiscoveryResponse> seen) {
    Map<String, String> applied = new LinkedHashMap<>();
    DeltaDiscoveryResponse response;
    while ((response = client.pollResponse(QUIET)) != null) {
      seen.add(response);
      List<String> bad = new ArrayList<>();
      for (Resource resource : response.getResourcesList()) {
        if (port(resource) == FORBIDDEN_PORT) {
          bad.add(resource.getName());
        }
      }
      if (bad.isEmpty()) {
        response.getResourcesList().forEach(r -> applied.put(r.getName(), r.getVersion()));
        response.getRemovedResourcesList().forEach(applied::remove);
        client.ack(response);
      } else {
        client.nack(response, "listener " + String.join(", ", bad) + ": port " + FORBIDDEN_PORT + " is forbidden");
      }
    }
    return applied;
  }

  private static int port(Resource resource) {
    try {
      return resource.getResource().unpack(Listener.class).getAddress().getSocketAddress().getPortValue();
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private TypeStatus listenerStatus() {
    return server.typeStatus("envoy-1", ResourceType.LISTENER).orElseThrow();
  }

  @Test
  void aRejectedPushOfEightListenersIsNarrowedToTheBadOneWhileTheSevenGoodOnesGetApplied() {
    eightListeners(5);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      List<DeltaDiscoveryResponse> seen = new ArrayList<>();

      Map<String, String> applied = answerLikeAStrictClient(envoy, seen);

      assertThat(applied.keySet()).containsExactlyInAnyOrder("pod/default/p0/outbound", "pod/default/p1/outbound",
          "pod/default/p2/outbound", "pod/default/p3/outbound", "pod/default/p4/outbound", "pod/default/p6/outbound",
          "pod/default/p7/outbound");
      long probes = server.xds.metrics().isolationProbes();
      assertThat(seen).as("the push, then one probe at a time").hasSize(1 + (int) probes);
      assertThat(probes).as("about log2(8) probes, not one per listener").isLessThanOrEqualTo(4);
      assertThat(quarantined).singleElement().satisfies(entry -> {
        assertThat(entry.name()).isEqualTo("pod/default/p5/outbound");
        assertThat(entry.nodeId()).isEqualTo("envoy-1");
        assertThat(entry.error()).isEqualTo("listener pod/default/p5/outbound: port 666 is forbidden");
      });
      TypeStatus status = listenerStatus();
      assertThat(status.getState()).isEqualTo(SyncState.NACKED);
      assertThat(status.getIsolating()).isFalse();
      assertThat(status.getQuarantinedList()).singleElement()
          .satisfies(q -> assertThat(q.getName()).isEqualTo("pod/default/p5/outbound"));
    }
  }

  @Test
  void twoBadListenersAmongEightAreBothFound() {
    eightListeners(1, 6);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);

      Map<String, String> applied = answerLikeAStrictClient(envoy, new ArrayList<>());

      assertThat(applied).hasSize(6).doesNotContainKeys("pod/default/p1/outbound", "pod/default/p6/outbound");
      assertThat(quarantined).extracting(Quarantine.Entry::name)
          .containsExactlyInAnyOrder("pod/default/p1/outbound", "pod/default/p6/outbound");
    }
  }

  @Test
  void aResourceRejectedAloneIsQuarantinedWithoutAnyProbe() {
    eightListeners();
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      answerLikeAStrictClient(envoy, new ArrayList<>());

      server.put(TestResources.listener("pod/default/p3/outbound", "c", FORBIDDEN_PORT));
      answerLikeAStrictClient(envoy, new ArrayList<>());

      assertThat(server.xds.metrics().isolationProbes()).isZero();
      assertThat(quarantined).extracting(Quarantine.Entry::name).containsExactly("pod/default/p3/outbound");
      assertThat(listenerStatus().getState()).isEqualTo(SyncState.NACKED);
    }
  }

  @Test
  void theQuarantinedListenerIsWithheldAfterAReconnectUntilItsContentChanges() {
    eightListeners(5);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      answerLikeAStrictClient(envoy, new ArrayList<>());
    }
    await().until(() -> server.clients().isEmpty());

    try (var again = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      again.subscribe(ResourceType.LISTENER);
      List<DeltaDiscoveryResponse> seen = new ArrayList<>();
      Map<String, String> applied = answerLikeAStrictClient(again, seen);

      assertThat(seen).as("one push without the quarantined listener, no NACK, no probe").hasSize(1);
      assertThat(applied).hasSize(7).doesNotContainKey("pod/default/p5/outbound");

      server.put(listener("pod/default/p5/outbound", "c", 15005));
      Map<String, String> fixed = answerLikeAStrictClient(again, seen);

      assertThat(fixed).containsOnlyKeys("pod/default/p5/outbound");
      await().untilAsserted(() -> {
        assertThat(listenerStatus().getState()).isEqualTo(SyncState.SYNCED);
        assertThat(listenerStatus().getQuarantinedList()).isEmpty();
      });
    }
  }

  @Test
  void aClientThatRejectsEverythingIsProbedAtMostTheConfiguredNumberOfTimes() {
    server.close();
    server = serverWith(XdsServerOptions.DEFAULTS.withIsolation(5, 256));
    eightListeners(0, 1, 2, 3, 4, 5, 6, 7);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      List<DeltaDiscoveryResponse> seen = new ArrayList<>();

      Map<String, String> applied = answerLikeAStrictClient(envoy, seen);

      assertThat(applied).isEmpty();
      assertThat(seen).as("the push and at most five probes").hasSizeLessThanOrEqualTo(6);
      assertThat(server.xds.metrics().isolationProbes()).isEqualTo(5);
      assertThat(server.xds.metrics().isolationsAbandoned()).isEqualTo(1);
      assertThat(listenerStatus().getState()).isEqualTo(SyncState.NACKED);
      assertThat(server.clients()).as("the stream stays open, parked").hasSize(1);
    }
  }

  @Test
  void onlyOneProbeIsInFlightAndOtherTypesKeepFlowingMeanwhile() {
    eightListeners(5);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribeResponseAck(ResourceType.CLUSTER);
      envoy.subscribe(ResourceType.LISTENER);
      DeltaDiscoveryResponse push = envoy.awaitResponse(ResourceType.LISTENER);
      envoy.nack(push, "listener pod/default/p5/outbound: port 666 is forbidden");
      DeltaDiscoveryResponse probe = envoy.awaitResponse(ResourceType.LISTENER);
      assertThat(probe.getResourcesCount()).isEqualTo(4);

      envoy.expectNoResponse();
      assertThat(listenerStatus().getIsolating()).isTrue();
      assertThat(listenerStatus().getState()).isEqualTo(SyncState.STALE);
      server.put(cluster("c", 500));
      envoy.ack(envoy.awaitResponse(ResourceType.CLUSTER));

      envoy.ack(probe);
      assertThat(envoy.awaitResponse(ResourceType.LISTENER).getResourcesCount()).isPositive();
    }
  }

  @Test
  void aListenerChangedDuringIsolationIsSentOnceTheIsolationEnds() {
    eightListeners(5);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      DeltaDiscoveryResponse push = envoy.awaitResponse(ResourceType.LISTENER);
      envoy.nack(push, "listener pod/default/p5/outbound: port 666 is forbidden");
      DeltaDiscoveryResponse probe = envoy.awaitResponse(ResourceType.LISTENER);

      server.put(listener("pod/default/p0/outbound", "c", 15100));
      envoy.ack(probe);
      List<DeltaDiscoveryResponse> seen = new ArrayList<>();
      Map<String, String> applied = answerLikeAStrictClient(envoy, seen);

      assertThat(applied).containsKey("pod/default/p0/outbound");
      assertThat(applied.get("pod/default/p0/outbound"))
          .isEqualTo(server.store.snapshot().get(ResourceType.LISTENER, "pod/default/p0/outbound")
              .orElseThrow().version());
      assertThat(quarantined).extracting(Quarantine.Entry::name).containsExactly("pod/default/p5/outbound");
    }
  }

  @Test
  void withIsolationOffANackOnlyParksTheType() {
    server.close();
    server = serverWith(XdsServerOptions.DEFAULTS.withIsolation(0, 256));
    eightListeners(5);
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("envoy-1", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      List<DeltaDiscoveryResponse> seen = new ArrayList<>();
      answerLikeAStrictClient(envoy, seen);

      assertThat(seen).hasSize(1);
      assertThat(quarantined).isEmpty();
      assertThat(listenerStatus().getState()).isEqualTo(SyncState.NACKED);
    }
  }
}
