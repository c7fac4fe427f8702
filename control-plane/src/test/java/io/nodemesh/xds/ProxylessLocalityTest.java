package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.apiListener;
import static io.nodemesh.xds.TestResources.bareNode;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.security.NodeAuthorizer;
import io.nodemesh.security.PeerBinding;
import io.nodemesh.security.ReviewedToken;
import io.nodemesh.translate.ResourceNames;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * trafficDistribution for proxyless clients that ask for a Service's plain listener name: the xDS server serves the
 * variant of the client's zone (or node) under that name, the client's locality taken from what it proved (its
 * token's pod, its peer address), never from what it claims. Real TCP connections from 127.0.0.x addresses.
 */
class ProxylessLocalityTest {

  static final String LISTENER = "echo.default.svc.cluster.local:80";
  static final String BASE_ROUTES = "svc/default/echo/80";
  static final String NODE_1_ADDRESS = "127.0.0.11";
  static final String FRONTEND_2_IP = "127.0.0.32";
  static final String STRANGER = "127.0.0.99";

  private final AtomicReference<ClusterState> model = new AtomicReference<>(model());
  private final NodeAuthorizationTest.FakeTokens tokens = new NodeAuthorizationTest.FakeTokens();
  private LoopbackXdsServer server;

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
  }

  /** node-1 in zone-a, node-2 in zone-b, node-3 without a zone; a frontend pod on node-1 and one on node-2. */
  static ClusterState model() {
    return ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(new NodeInfo("node-1", Optional.of("zone-a"), Optional.empty(), true, ImmutableList.of(NODE_1_ADDRESS)))
        .putNode(new NodeInfo("node-2", Optional.of("zone-b"), Optional.empty(), true, ImmutableList.of()))
        .putNode(new NodeInfo("node-3", Optional.empty(), Optional.empty(), true, ImmutableList.of()))
        .putPod(NodeAuthorizationTest.pod("default", "frontend-1", "node-1", "127.0.0.31"))
        .putPod(NodeAuthorizationTest.pod("default", "frontend-2", "node-2", FRONTEND_2_IP))
        .build();
  }

  private void start(NodeAuthMode mode) {
    start(mode, Duration.ZERO);
  }

  private void start(NodeAuthMode mode, Duration placementWait) {
    NodeAuthorizer authorizer = new NodeAuthorizer(mode, new PeerBinding(false, "nodemesh-system"),
        mode.usesToken() ? tokens : null, model::get, true, placementWait);
    server = new LoopbackXdsServer(
        XdsServerOptions.DEFAULTS.withAuthorizer(authorizer).withNodePrivateName(ResourceNames::isPerPod));
    server.apply(UpdateBatch.builder()
        .put(apiListener(LISTENER, BASE_ROUTES))
        .put(apiListener("zone-a.zone." + LISTENER, BASE_ROUTES + "@zone/zone-a"))
        .put(apiListener("zone-b.zone." + LISTENER, BASE_ROUTES + "@zone/zone-b"))
        .put(listener("pod/default/p1/outbound", BASE_ROUTES))
        .putNode("node-1", List.of("pod/default/p1/outbound"), List.of())
        .build());
  }

  @Test
  void aSotwClientWithATokenGetsItsZonesVariantUnderThePlainNameAndFollowsItAsItChangesGoesAndComesBack() {
    start(NodeAuthMode.TOKEN);
    tokens.accept("frontend-1", "default", "frontend-1", "node-1");
    try (var client = AdsTestClient.Sotw.connect(server.channelFrom(STRANGER, "frontend-1"), bareNode("frontend-1"))) {
      DiscoveryResponse first = client.requestResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(client.namesIn(first)).containsExactly(LISTENER);
      assertThat(routesOf(first.getResources(0))).isEqualTo(BASE_ROUTES + "@zone/zone-a");
      ClientStatus status = onlyClient();
      assertThat(status.getAuthorization())
          .contains("locality node node-1, zone zone-a (the node of the token's pod default/frontend-1)");

      server.apply(UpdateBatch.builder().put(apiListener("zone-a.zone." + LISTENER, "changed@zone/zone-a")).build());
      DiscoveryResponse changed = client.awaitResponse(ResourceType.LISTENER);
      client.ack(changed);
      assertThat(client.namesIn(changed)).containsExactly(LISTENER);
      assertThat(routesOf(changed.getResources(0))).as("the variant changed").isEqualTo("changed@zone/zone-a");

      server.apply(UpdateBatch.builder().put(apiListener("zone-b.zone." + LISTENER, "other@zone/zone-b")).build());
      server.apply(UpdateBatch.builder().put(apiListener(LISTENER, "base-changed")).build());
      client.expectNoResponse();

      server.apply(UpdateBatch.builder().remove(ResourceType.LISTENER, "zone-a.zone." + LISTENER).build());
      DiscoveryResponse base = client.awaitResponse(ResourceType.LISTENER);
      client.ack(base);
      assertThat(client.namesIn(base)).containsExactly(LISTENER);
      assertThat(routesOf(base.getResources(0))).as("the service no longer asks: the base").isEqualTo("base-changed");

      server.apply(UpdateBatch.builder().put(apiListener("zone-a.zone." + LISTENER, BASE_ROUTES + "@zone/zone-a")).build());
      DiscoveryResponse back = client.awaitResponse(ResourceType.LISTENER);
      client.ack(back);
      assertThat(routesOf(back.getResources(0))).isEqualTo(BASE_ROUTES + "@zone/zone-a");
    }
  }

  @Test
  void aDeltaClientPlacedByThePeerAddressOfItsPodGetsItsZonesVariantAndStillGetsAnExplicitVariantByItsOwnName() {
    start(NodeAuthMode.PEER);
    try (var client = AdsTestClient.Delta.connect(server.channelFrom(FRONTEND_2_IP), bareNode("frontend-2"))) {
      DeltaDiscoveryResponse first = client.subscribeResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(AdsTestClient.Delta.resourceNames(first)).containsExactly(LISTENER);
      assertThat(routesOf(first.getResources(0).getResource())).isEqualTo(BASE_ROUTES + "@zone/zone-b");
      assertThat(onlyClient().getAuthorization()).contains("locality node node-2, zone zone-b (the pod or node with"
          + " peer address 127.0.0.32)");

      client.subscribe(ResourceType.LISTENER, "zone-a.zone." + LISTENER);
      DeltaDiscoveryResponse explicit = client.awaitResponse(ResourceType.LISTENER);
      client.ack(explicit);
      assertThat(AdsTestClient.Delta.resourceNames(explicit)).containsExactly("zone-a.zone." + LISTENER);
      assertThat(routesOf(explicit.getResources(0).getResource())).isEqualTo(BASE_ROUTES + "@zone/zone-a");

      server.apply(UpdateBatch.builder().remove(ResourceType.LISTENER, "zone-b.zone." + LISTENER).build());
      DeltaDiscoveryResponse base = client.awaitResponse(ResourceType.LISTENER);
      client.ack(base);
      assertThat(AdsTestClient.Delta.resourceNames(base)).containsExactly(LISTENER);
      assertThat(base.getRemovedResourcesList()).isEmpty();
      assertThat(routesOf(base.getResources(0).getResource())).isEqualTo(BASE_ROUTES);
    }
  }

  @Test
  void aNodesVariantComesBeforeItsZonesAndANodeAddressPlacesAClientOnThatNode() {
    start(NodeAuthMode.PEER);
    server.apply(UpdateBatch.builder().put(apiListener("node-1.node." + LISTENER, BASE_ROUTES + "@node/node-1")).build());
    try (var client = AdsTestClient.Sotw.connect(server.channelFrom(NODE_1_ADDRESS), bareNode("host-network-app"))) {
      DiscoveryResponse listeners = client.requestResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(routesOf(listeners.getResources(0))).isEqualTo(BASE_ROUTES + "@node/node-1");
    }
  }

  @Test
  void aClientNothingPlacesAndAnEnvoyThatClaimsItsNodeGetTheNamesTheyAskFor() {
    start(NodeAuthMode.PEER_OR_TOKEN);
    tokens.accept("envoy", "nodemesh-system", "envoy-a", "node-1");
    try (var stranger = AdsTestClient.Sotw.connect(server.channelFrom(STRANGER), bareNode("somewhere"))) {
      DiscoveryResponse listeners = stranger.requestResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(routesOf(listeners.getResources(0))).isEqualTo(BASE_ROUTES);
      assertThat(onlyClient().getAuthorization())
          .contains("no locality: the pod or node with peer address 127.0.0.99");
    }
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "envoy"), envoyNode("envoy-a", "node-1"))) {
      DeltaDiscoveryResponse named = envoy.subscribeResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(routesOf(named.getResources(0).getResource())).as("node Envoys are never renamed").isEqualTo(BASE_ROUTES);
    }
  }

  @Test
  void aClientOnANodeWithoutAZoneOrANodeTheStateDoesNotHoldGetsTheBase() {
    model.set(model().toBuilder()
        .putPod(NodeAuthorizationTest.pod("default", "frontend-3", "node-3", "127.0.0.33"))
        .putPod(NodeAuthorizationTest.pod("default", "frontend-4", "node-4", "127.0.0.34"))
        .build());
    start(NodeAuthMode.PEER);
    try (var noZone = AdsTestClient.Sotw.connect(server.channelFrom("127.0.0.33"), bareNode("frontend-3"));
        var unknownNode = AdsTestClient.Sotw.connect(server.channelFrom("127.0.0.34"), bareNode("frontend-4"))) {
      assertThat(routesOf(noZone.requestResponseAck(ResourceType.LISTENER, LISTENER).getResources(0)))
          .isEqualTo(BASE_ROUTES);
      assertThat(routesOf(unknownNode.requestResponseAck(ResourceType.LISTENER, LISTENER).getResources(0)))
          .isEqualTo(BASE_ROUTES);
      await().until(() -> server.clients().size() == 2);
      assertThat(server.clients()).extracting(ClientStatus::getAuthorization).anySatisfy(reason ->
          assertThat(reason).contains("locality node node-3, no zone")).anySatisfy(reason ->
          assertThat(reason).contains("no locality: node node-4 (the pod or node with peer address 127.0.0.34) is"
              + " not in the cluster state"));
    }
  }

  @Test
  void aClientWhosePodTheStateDoesNotShowYetWaitsAndIsPlacedOnceItDoes() {
    start(NodeAuthMode.TOKEN, Duration.ofSeconds(10));
    tokens.hold("late").complete(tokenWithoutNodeClaim("frontend-5"));
    try (var client = AdsTestClient.Sotw.connect(server.channelFrom(STRANGER, "late"), bareNode("frontend-5"))) {
      client.request(ResourceType.LISTENER, LISTENER);
      client.expectNoResponse(Duration.ofMillis(300)); // admitted only once placed, or when the wait ends

      model.set(model().toBuilder()
          .putPod(NodeAuthorizationTest.pod("default", "frontend-5", "node-2", "127.0.0.35"))
          .build());
      DiscoveryResponse listeners = client.awaitResponse(ResourceType.LISTENER);
      client.ack(listeners);
      assertThat(routesOf(listeners.getResources(0))).isEqualTo(BASE_ROUTES + "@zone/zone-b");
      assertThat(onlyClient().getAuthorization())
          .contains("locality node node-2, zone zone-b (the node of the token's pod default/frontend-5)");
    }
  }

  @Test
  void aClientTheStateNeverPlacesIsAdmittedWithoutALocalityWhenTheWaitEnds() {
    start(NodeAuthMode.TOKEN, Duration.ofMillis(300));
    tokens.hold("ghost").complete(tokenWithoutNodeClaim("ghost"));
    try (var client = AdsTestClient.Sotw.connect(server.channelFrom(STRANGER, "ghost"), bareNode("ghost"))) {
      DiscoveryResponse listeners = client.requestResponseAck(ResourceType.LISTENER, LISTENER);
      assertThat(routesOf(listeners.getResources(0))).isEqualTo(BASE_ROUTES);
      assertThat(onlyClient().getAuthorization())
          .contains("no locality after waiting 300 ms: the node of the token's pod default/ghost");
    }
  }

  /** A bound token of pod default/{@code pod} from an API server that does not add the node-name claim. */
  private static ReviewedToken tokenWithoutNodeClaim(String pod) {
    return new ReviewedToken(true, "", "system:serviceaccount:default:default", Optional.of(pod),
        Optional.of("uid-" + pod), Optional.empty(), Optional.of(Instant.now().plusSeconds(3600)));
  }

  private ClientStatus onlyClient() {
    await().until(() -> server.clients().size() == 1);
    return server.clients().get(0);
  }

  /** The route configuration an ApiListener reads. */
  static String routesOf(Any packedListener) {
    try {
      Listener listener = packedListener.unpack(Listener.class);
      return listener.getApiListener().getApiListener().unpack(HttpConnectionManager.class).getRds()
          .getRouteConfigName();
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("not a proxyless listener", e);
    }
  }
}
