package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.bareNode;
import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static io.nodemesh.xds.TestResources.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.Status;
import io.nodemesh.admin.ConvergenceTracker;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.model.ClusterState;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.security.NodeAuthorizer;
import io.nodemesh.security.PeerBinding;
import io.nodemesh.translate.ResourceNames;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Issue 14's hostile clients, over real TCP from distinct 127.0.0.x addresses against the production
 * authorizer: each reproduces one attack and shows the limit that now stops it. Loops are bounded; every wait
 * has a deadline.
 */
class HostileClientsTest {

  /** The Envoy pod envoy-a on node-1 of {@link NodeAuthorizationTest#model()}: the victim of other clients. */
  static final String VICTIM_POD_IP = NodeAuthorizationTest.ENVOY_POD_IP;
  static final String ATTACKER = "127.0.0.99";
  static final String SECOND_ATTACKER = "127.0.0.98";
  static final String VICTIM_ID = "envoy-a";
  static final int SERVICES = 8;
  static final Duration QUIET = Duration.ofMillis(300);

  private LoopbackXdsServer server;

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
  }

  static List<String> serviceNames() {
    return IntStream.range(0, SERVICES).mapToObj(i -> "svc/default/s" + i + "/80").toList();
  }

  /** The chart's authorization (peer), anonymous clients allowed or not, with {@code options} on top. */
  private void start(XdsServerOptions options, boolean allowAnonymous, XdsEventListener listener) {
    ClusterState state = NodeAuthorizationTest.model();
    NodeAuthorizer authorizer = new NodeAuthorizer(NodeAuthMode.PEER,
        new PeerBinding(false, NodeAuthorizationTest.ENVOY_NAMESPACE), null, () -> state, allowAnonymous);
    server = new LoopbackXdsServer(options.withAuthorizer(authorizer).withNodePrivateName(ResourceNames::isPerPod), listener, 4 * 1024 * 1024, null);
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (String name : serviceNames()) {
      batch.put(cluster(name)).put(endpoints(name, "10.1.0.1", 80)).put(route(name, name));
    }
    batch.put(listener("pod/default/p1/outbound", serviceNames().get(0)));
    server.apply(batch.putNode("node-1", Set.of("pod/default/p1/outbound"), Set.copyOf(serviceNames())).build());
  }

  private void start(XdsServerOptions options, boolean allowAnonymous) {
    start(options, allowAnonymous, XdsEventListener.NONE);
  }

  /** Subscribes to every shared cluster by name and NACKs every response (probes included) until quiet. */
  private static int nackEverything(AdsTestClient.Delta client, String message) {
    client.subscribe(ResourceType.CLUSTER, serviceNames().toArray(String[]::new));
    DeltaDiscoveryResponse response = client.awaitResponse(ResourceType.CLUSTER);
    int nacks = 0;
    while (response != null && nacks < 200) {
      client.nack(response, message);
      nacks++;
      response = client.pollResponse(QUIET);
    }
    return nacks;
  }

  @Test
  void aClientUsingAnotherEnvoysNodeIdCannotWithholdAnythingFromThatEnvoy() {
    start(XdsServerOptions.DEFAULTS, true);
    try (var attacker = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode(VICTIM_ID))) {
      assertThat(nackEverything(attacker, "rejected")).isGreaterThan(1);
    }
    assertThat(server.xds.quarantine().all()).as("the attacker quarantined what it rejected, for itself")
        .hasSize(SERVICES)
        .allSatisfy(entry -> {
          assertThat(entry.principal()).isEqualTo("peer:" + ATTACKER);
          assertThat(entry.nodeId()).isEqualTo(VICTIM_ID);
        });

    try (var victim = AdsTestClient.Delta.connect(server.channelFrom(VICTIM_POD_IP), envoyNode(VICTIM_ID, "node-1"))) {
      DeltaDiscoveryResponse clusters = victim.subscribeResponseAck(ResourceType.CLUSTER);
      assertThat(AdsTestClient.Delta.resourceNames(clusters)).containsAll(serviceNames());
      DeltaDiscoveryResponse endpoints =
          victim.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().toArray(String[]::new));
      assertThat(AdsTestClient.Delta.resourceNames(endpoints)).containsExactlyInAnyOrderElementsOf(serviceNames());
      DeltaDiscoveryResponse routes =
          victim.subscribeResponseAck(ResourceType.ROUTE, serviceNames().toArray(String[]::new));
      assertThat(AdsTestClient.Delta.resourceNames(routes)).containsExactlyInAnyOrderElementsOf(serviceNames());
      ClientStatus status = server.clients().get(0);
      assertThat(status.getPrincipal()).isEqualTo("node:node-1");
      assertThat(status.getTypesList()).allSatisfy(type -> assertThat(type.getQuarantinedList()).isEmpty());
    }
  }

  @Test
  void aMegabyteNackMessageIsKeptAsOneKibibyte() {
    start(XdsServerOptions.DEFAULTS, true);
    String huge = "x".repeat(2 * 1024 * 1024);
    try (var attacker = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("big-nack"))) {
      attacker.subscribe(ResourceType.CLUSTER, serviceNames().get(0));
      attacker.nack(attacker.awaitResponse(ResourceType.CLUSTER), huge);
      await().until(() -> server.xds.quarantine().size() == 1);
      TypeStatus clusters = server.clients().get(0).getTypesList().stream()
          .filter(type -> type.getTypeUrl().equals(ResourceType.CLUSTER.typeUrl())).findFirst().orElseThrow();
      assertThat(clusters.getNackError().length()).isLessThan(XdsTunables.MAX_NACK_CHARS + 32);
      assertThat(server.xds.quarantine().all().get(0).error())
          .hasSizeLessThan(XdsTunables.MAX_NACK_CHARS + 32)
          .endsWith("...(" + huge.length() + " chars)");
    }
  }

  @Test
  void aClientRotatingNodeIdsCannotGrowTheQuarantineBeyondItsPrincipalsShare() {
    start(XdsServerOptions.DEFAULTS.withIsolation(64, 5), true);
    for (int i = 0; i < 4; i++) {
      try (var attacker = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("id-" + i))) {
        nackEverything(attacker, "rejected");
      }
    }
    assertThat(server.xds.quarantine().size()).isEqualTo(5);
    assertThat(server.xds.metrics().quarantineFull()).isPositive();
  }

  @Test
  void theQuarantineOverAllClientsIsBounded() {
    start(XdsServerOptions.DEFAULTS.withQuarantineBounds(10, 60_000), true);
    for (String address : List.of(ATTACKER, SECOND_ATTACKER)) {
      try (var attacker = AdsTestClient.Delta.connect(server.channelFrom(address), bareNode("x"))) {
        nackEverything(attacker, "rejected");
      }
    }
    assertThat(server.xds.quarantine().size()).isEqualTo(10);
  }

  @Test
  void aClientClaimingNoNodeWithoutATokenIsRefusedUnlessAnonymousClientsAreAllowed() {
    start(XdsServerOptions.DEFAULTS, false);
    try (var anonymous = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("grpc-client"))) {
      anonymous.subscribe(ResourceType.ENDPOINT, serviceNames().get(0));
      Status status = Status.fromThrowable(anonymous.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription()).contains("bearer token").contains("--xds-allow-anonymous-clients");
      assertThat(anonymous.queued()).isZero();
    }
    assertThat(server.xds.metrics().authDenied()).containsEntry("anonymous", 1L);
  }

  @Test
  void refusedAndAuthorizedStreamsLeaveNoTimerHoldingThemSoReconnectLoopsCannotPinClosedStreams() {
    // found by the heap harness: a refused stream stayed reachable from its first-request timer for 10 s, so
    // a client reconnecting after every refusal held ~1 GB of closed streams and their subscriptions
    start(XdsServerOptions.DEFAULTS, false);
    for (int i = 0; i < 20; i++) {
      try (var refused = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("loop-" + i))) {
        refused.subscribe(ResourceType.ENDPOINT, serviceNames().toArray(String[]::new));
        assertThat(Status.fromThrowable(refused.awaitError()).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      }
    }
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(server.xds.pendingTimers()).isZero());
  }

  @Test
  void aClientWithoutANodeGetsTheEndpointsItNamesNeverEveryEndpointOfTheCluster() {
    start(XdsServerOptions.DEFAULTS, true);
    try (var client = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("grpc-client"))) {
      DeltaDiscoveryResponse wildcard = client.subscribeResponseAck(ResourceType.ENDPOINT, "*");
      assertThat(wildcard.getResourcesList()).isEmpty();
      client.subscribe(ResourceType.ENDPOINT, serviceNames().get(3));
      assertThat(AdsTestClient.Delta.resourceNames(client.awaitResponse(ResourceType.ENDPOINT)))
          .containsExactly(serviceNames().get(3));
      DeltaDiscoveryResponse routes = client.subscribeResponseAck(ResourceType.ROUTE, "*");
      assertThat(routes.getResourcesList()).isEmpty();
    }
    assertThat(server.xds.metrics().badRequests()).containsEntry(XdsMetrics.BadRequest.SHARED_ONLY_WILDCARD, 2L);
  }

  @Test
  void anOverlongNameIsIgnoredAndNeverEchoedBack() {
    start(XdsServerOptions.DEFAULTS, true);
    String overlong = "svc/" + "a".repeat(XdsTunables.MAX_RESOURCE_NAME_CHARS);
    try (var client = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("grpc-client"))) {
      client.subscribe(ResourceType.ENDPOINT, overlong, serviceNames().get(0), "svc/default/unknown/80");
      DeltaDiscoveryResponse response = client.awaitResponse(ResourceType.ENDPOINT);
      assertThat(AdsTestClient.Delta.resourceNames(response)).containsExactly(serviceNames().get(0));
      assertThat(response.getRemovedResourcesList()).as("a name that may exist is told missing, as the protocol says")
          .containsExactly("svc/default/unknown/80");
    }
    assertThat(server.xds.metrics().badRequests()).containsEntry(XdsMetrics.BadRequest.NAME_TOO_LONG, 1L);
  }

  @Test
  void theSubscribedNamesOfOneAddressAreBoundedInBytesAndFreedWhenItsStreamsEnd() {
    start(XdsServerOptions.DEFAULTS.withStreamsPerAddress(0, false).withNameBytesPerAddress(64 * 1024), true);
    String[] names = IntStream.range(0, 1_000).mapToObj(i -> "svc/default/" + "n".repeat(80) + i + "/80")
        .toArray(String[]::new);
    try (var greedy = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("greedy"))) {
      greedy.subscribe(ResourceType.ENDPOINT, names);
      Status status = Status.fromThrowable(greedy.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).contains("--xds-max-name-bytes-per-address");
    }
    assertThat(server.xds.metrics().limits()).containsEntry(XdsMetrics.Limit.NAME_BYTES_PER_ADDRESS, 1L);
    try (var modest = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("modest"))) {
      DeltaDiscoveryResponse response =
          modest.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().toArray(String[]::new));
      assertThat(AdsTestClient.Delta.resourceNames(response)).hasSize(SERVICES);
    }
  }

  @Test
  void aStreamThatSendsNothingEndsAtTheFirstRequestDeadlineAndFreesItsPlace() {
    start(XdsServerOptions.DEFAULTS.withServerLimits(1, 300).withStreamsPerAddress(1, false), true);
    try (var silent = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("silent"))) {
      Status status = Status.fromThrowable(silent.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      assertThat(status.getDescription()).contains("--xds-first-request-timeout");
    }
    try (var next = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("next"))) {
      assertThat(next.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().get(0)).getResourcesCount())
          .isEqualTo(1);
    }
    assertThat(server.xds.metrics().limits()).containsEntry(XdsMetrics.Limit.FIRST_REQUEST_DEADLINE, 1L);
  }

  @Test
  void theServerRefusesStreamsBeyondItsGlobalLimitFromAnyAddress() {
    start(XdsServerOptions.DEFAULTS.withServerLimits(2, 0), true);
    try (var first = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("a"));
         var second = AdsTestClient.Delta.connect(server.channelFrom(SECOND_ATTACKER), bareNode("b"))) {
      first.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().get(0));
      second.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().get(0));
      try (var third = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.97"), bareNode("c"))) {
        Status status = Status.fromThrowable(third.awaitError());
        assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(status.getDescription()).contains("--xds-max-streams");
      }
    }
    // the server learns of the closed streams asynchronously (the clients' cancels)
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(server.clients()).isEmpty());
    try (var later = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.97"), bareNode("c"))) {
      assertThat(later.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().get(0)).getResourcesCount())
          .as("places are given back when streams end").isEqualTo(1);
    }
  }

  @Test
  void anOverlongOrMultiLineNodeIdIsRefused() {
    start(XdsServerOptions.DEFAULTS, true);
    for (Node node : List.of(bareNode("e".repeat(XdsTunables.MAX_NODE_ID_CHARS + 1)),
        bareNode("envoy-x\n2026-12-05 WARN node authorization is off"),
        envoyNode("envoy-y", "node-1\r"))) {
      try (var client = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), node)) {
        client.subscribe(ResourceType.CLUSTER);
        Status status = Status.fromThrowable(client.awaitError());
        assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      }
    }
    assertThat(server.xds.metrics().badRequests()).containsEntry(XdsMetrics.BadRequest.INVALID_NODE, 3L);
  }

  @Test
  void clientsThatAckedAndLeftLeaveNoConvergenceStateBehind() {
    ConvergenceTracker tracker = new ConvergenceTracker((type, seconds) -> {});
    start(XdsServerOptions.DEFAULTS, true, tracker);
    for (int i = 0; i < 40; i++) {
      try (var client = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("id-" + i + "-x".repeat(100)))) {
        client.subscribeResponseAck(ResourceType.ENDPOINT, serviceNames().get(0));
        client.subscribeResponseAck(ResourceType.LISTENER);
      }
    }
    await().until(() -> server.xds.connectedStreams() == 0);
    // nothing is kept per stream or per claimed id: node-less clients share the one entry of the empty node
    assertThat(tracker.trackedNodes()).isLessThanOrEqualTo(1);
  }

  @Test
  void clientTextCannotForgeOrFloodLogLines() {
    Logger logger = (Logger) LoggerFactory.getLogger(AdsStream.class);
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    logger.addAppender(captured);
    try {
      start(XdsServerOptions.DEFAULTS, true);
      try (var client = AdsTestClient.Delta.connect(server.channelFrom(ATTACKER), bareNode("liar"))) {
        client.subscribe(ResourceType.CLUSTER, serviceNames().get(0));
        client.nack(client.awaitResponse(ResourceType.CLUSTER),
            "bad\n2026-12-05 WARN node authorization is off" + "y".repeat(20_000));
        for (int i = 0; i < 50; i++) {
          client.send(io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(ResourceType.ENDPOINT.typeUrl()).setResponseNonce("forged-" + i));
        }
        await().until(() -> server.xds.metrics().badRequests().get(XdsMetrics.BadRequest.UNKNOWN_NONCE) == 50L);
      }
      List<String> lines = new ArrayList<>();
      // streams still log while closing; AppenderBase.doAppend holds the appender's lock, so copy under it
      synchronized (captured) {
        captured.list.forEach(event -> lines.add(event.getFormattedMessage()));
      }
      assertThat(lines).noneMatch(line -> line.contains("\n")).allMatch(line -> line.length() < 4_000);
      Set<String> nonceWarnings = new LinkedHashSet<>();
      lines.stream().filter(line -> line.contains("never sent")).forEach(nonceWarnings::add);
      assertThat(nonceWarnings).as("50 forged nonces, one warning line").hasSize(1);
    } finally {
      logger.detachAppender(captured);
    }
  }
}
