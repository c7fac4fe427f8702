package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.apiListener;
import static io.nodemesh.xds.TestResources.bareNode;
import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static io.nodemesh.xds.TestResources.listener;
import static io.nodemesh.xds.TestResources.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Status;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.security.NodeAuthorizer;
import io.nodemesh.security.PeerBinding;
import io.nodemesh.security.ReviewedToken;
import io.nodemesh.translate.ResourceNames;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Node authorization over real TCP connections from different 127.0.0.x addresses: a client receives the
 * snapshot of the node it really runs on, or nothing; proxyless clients get node-independent resources only.
 */
class NodeAuthorizationTest {

  static final String ENVOY_NAMESPACE = "nodemesh-system";
  static final String NODE_1_ADDRESS = "127.0.0.11";
  static final String NODE_2_ADDRESS = "127.0.0.12";
  static final String ENVOY_POD_IP = "127.0.0.21";
  static final String IMPOSTOR_POD_IP = "127.0.0.22";
  static final String STRANGER = "127.0.0.99";
  static final String PROXYLESS_LISTENER = "echo.default.svc.cluster.local:80";

  private final AtomicReference<ClusterState> model = new AtomicReference<>(model());
  private final FakeTokens tokens = new FakeTokens();
  private LoopbackXdsServer server;

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
  }

  /** node-1 with the Envoy pod nodemesh-system/envoy-a, node-2; a pod named like an Envoy in another namespace. */
  static ClusterState model() {
    return ClusterState.builder(MeshOptions.DEFAULTS)
        .putNode(new NodeInfo("node-1", Optional.empty(), Optional.empty(), true, ImmutableList.of(NODE_1_ADDRESS)))
        .putNode(new NodeInfo("node-2", Optional.empty(), Optional.empty(), true, ImmutableList.of(NODE_2_ADDRESS)))
        .putPod(pod(ENVOY_NAMESPACE, "envoy-a", "node-1", ENVOY_POD_IP))
        .putPod(pod("tenant", "envoy-b", "node-1", IMPOSTOR_POD_IP))
        .build();
  }

  static PodInfo pod(String namespace, String name, String node, String ip) {
    return new PodInfo("uid-" + name, namespace, name, Optional.of(node), ImmutableList.of(ip), PodPhase.RUNNING,
        false, false, null, null, null);
  }

  private void start(NodeAuthMode mode, boolean trustLoopback) {
    start(mode, trustLoopback, true);
  }

  private void start(NodeAuthMode mode, boolean trustLoopback, boolean allowAnonymous) {
    NodeAuthorizer authorizer = new NodeAuthorizer(mode, new PeerBinding(trustLoopback, ENVOY_NAMESPACE),
        mode.usesToken() ? tokens : null, model::get, allowAnonymous);
    server = new LoopbackXdsServer(
        XdsServerOptions.DEFAULTS.withAuthorizer(authorizer).withNodePrivateName(ResourceNames::isPerPod));
    server.apply(UpdateBatch.builder()
        .put(cluster("svc/default/echo/80"))
        .put(endpoints("svc/default/echo/80", "10.1.0.1", 80))
        .put(route("svc/default/echo/80", "svc/default/echo/80"))
        .put(apiListener(PROXYLESS_LISTENER, "svc/default/echo/80"))
        .put(listener("pod/default/p1/outbound", "svc/default/echo/80"))
        .put(cluster("pod/default/p1/passthrough"))
        .put(listener("pod/default/p2/outbound", "svc/default/echo/80"))
        .putNode("node-1", Set.of("pod/default/p1/outbound"), Set.of("svc/default/echo/80", "pod/default/p1/passthrough"))
        .putNode("node-2", Set.of("pod/default/p2/outbound"), Set.of("svc/default/echo/80"))
        .build());
  }

  private ClientStatus onlyClient() {
    await().until(() -> server.clients().size() == 1);
    return server.clients().get(0);
  }

  @Test
  void anEnvoyConnectingFromAnAddressOfItsNodeGetsThatNodesView() {
    start(NodeAuthMode.PEER, false);
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(NODE_1_ADDRESS), envoyNode("envoy-h", "node-1"))) {
      DeltaDiscoveryResponse listeners = envoy.subscribeResponseAck(ResourceType.LISTENER);

      assertThat(AdsTestClient.Delta.resourceNames(listeners)).containsExactly("pod/default/p1/outbound");
      ClientStatus status = onlyClient();
      assertThat(status.getNodeName()).isEqualTo("node-1");
      assertThat(status.getAuthorization()).contains("127.0.0.11 is an address of node node-1");
      assertThat(server.xds.metrics().authorized()).containsEntry("peer_node_address", 1L);
    }
  }

  @Test
  void anEnvoyOffTheHostNetworkIsBoundToItsNodeThroughItsOwnPodIp() {
    start(NodeAuthMode.PEER, false);
    try (var envoy = AdsTestClient.Sotw.connect(server.channelFrom(ENVOY_POD_IP), envoyNode("envoy-a", "node-1"))) {
      DiscoveryResponse clusters = envoy.requestResponseAck(ResourceType.CLUSTER);

      assertThat(envoy.namesIn(clusters)).containsExactlyInAnyOrder("svc/default/echo/80", "pod/default/p1/passthrough");
      assertThat(onlyClient().getAuthorization())
          .isEqualTo("peer 127.0.0.21 is the IP of pod nodemesh-system/envoy-a on node node-1");
    }
  }

  @Test
  void anEnvoyClaimingAnotherNodeIsRefusedWithPermissionDeniedAndReceivesNothing() {
    start(NodeAuthMode.PEER, false);
    try (var thief = AdsTestClient.Delta.connect(server.channelFrom(ENVOY_POD_IP), envoyNode("envoy-a", "node-2"))) {
      thief.subscribe(ResourceType.LISTENER);

      Status status = Status.fromThrowable(thief.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription())
          .isEqualTo("peer 127.0.0.21 is neither an address of node node-2 [127.0.0.12] nor the IP of pod"
              + " nodemesh-system/envoy-a on that node");
      assertThat(thief.queued()).as("no response of any kind").isZero();
      assertThat(server.clients()).isEmpty();
      assertThat(server.xds.metrics().authDenied()).containsEntry("peer_mismatch", 1L);
    }
  }

  @Test
  void aPodNamedLikeAnEnvoyOutsideTheEnvoyNamespaceIsNotTrusted() {
    start(NodeAuthMode.PEER, false);
    try (var impostor = AdsTestClient.Sotw.connect(server.channelFrom(IMPOSTOR_POD_IP), envoyNode("envoy-b", "node-1"))) {
      impostor.request(ResourceType.LISTENER);

      Status status = Status.fromThrowable(impostor.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription()).contains("nor the IP of pod nodemesh-system/envoy-b");
    }
  }

  @Test
  void aClaimForANodeTheClusterDoesNotHaveIsRefused() {
    start(NodeAuthMode.PEER, false);
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(NODE_1_ADDRESS), envoyNode("envoy-x", "node-9"))) {
      envoy.subscribe(ResourceType.CLUSTER);

      Status status = Status.fromThrowable(envoy.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription()).startsWith("node node-9 is not in the cluster");
      assertThat(server.xds.metrics().authDenied()).containsEntry("unknown_node", 1L);
    }
  }

  @Test
  void loopbackPeersPassForAnyNodeOnlyWhenTrusted() {
    start(NodeAuthMode.PEER, true);
    try (var local = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.1"), envoyNode("sim", "node-2"))) {
      assertThat(AdsTestClient.Delta.resourceNames(local.subscribeResponseAck(ResourceType.LISTENER)))
          .containsExactly("pod/default/p2/outbound");
      assertThat(onlyClient().getAuthorization()).contains("loopback peer 127.0.0.1 is trusted");
    }
    server.close();

    start(NodeAuthMode.PEER, false);
    try (var local = AdsTestClient.Delta.connect(server.channelFrom("127.0.0.1"), envoyNode("sim", "node-2"))) {
      local.subscribe(ResourceType.LISTENER);
      assertThat(Status.fromThrowable(local.awaitError()).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    }
  }

  @Test
  void aProxylessClientGetsNodeIndependentResourcesButNeverANodesListenersOrClusters() {
    start(NodeAuthMode.PEER, false);
    try (var client = AdsTestClient.Delta.connect(server.channelFrom(STRANGER), bareNode("node-1"))) {
      // a node.id that happens to be a node name, from an address that is not that node's: no view
      DeltaDiscoveryResponse wildcard = client.subscribeResponseAck(ResourceType.CLUSTER, "*");
      assertThat(wildcard.getResourcesList()).isEmpty();

      client.subscribe(ResourceType.LISTENER, PROXYLESS_LISTENER, "pod/default/p1/outbound", "pod/default/p2/outbound");
      DeltaDiscoveryResponse listeners = client.awaitResponse(ResourceType.LISTENER);
      client.ack(listeners);
      assertThat(AdsTestClient.Delta.resourceNames(listeners)).containsExactly(PROXYLESS_LISTENER);
      client.subscribe(ResourceType.CLUSTER, "svc/default/echo/80", "pod/default/p1/passthrough");
      assertThat(AdsTestClient.Delta.resourceNames(client.awaitResponse(ResourceType.CLUSTER)))
          .containsExactly("svc/default/echo/80");
      client.expectNoResponse();

      ClientStatus status = onlyClient();
      assertThat(status.getNodeName()).as("receives no node's view").isEmpty();
      assertThat(status.getClaimedNodeName()).isEqualTo("node-1");
      assertThat(status.getAuthorization()).contains("node-independent resources only");
      assertThat(server.xds.metrics().badRequests()).containsEntry(XdsMetrics.BadRequest.NODE_PRIVATE_NAME, 3L);
    }
  }

  @Test
  void aSotwProxylessClientThatNamesOnlyPrivateResourcesGetsNothingRatherThanAWildcard() {
    start(NodeAuthMode.PEER, false);
    try (var client = AdsTestClient.Sotw.connect(server.channelFrom(STRANGER), bareNode("grpc-client"))) {
      client.request(ResourceType.LISTENER, "pod/default/p1/outbound");
      // the first LDS request is always answered; here with nothing, not with a wildcard view
      assertThat(client.awaitResponse(ResourceType.LISTENER).getResourcesList()).isEmpty();
      client.request(ResourceType.LISTENER, "pod/default/p1/outbound", PROXYLESS_LISTENER);
      assertThat(client.namesIn(client.awaitResponse(ResourceType.LISTENER))).containsExactly(PROXYLESS_LISTENER);
    }
  }

  @Test
  void withAuthorizationOffEveryClientGetsTheNodeItClaims() {
    start(NodeAuthMode.NONE, false);
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(STRANGER), envoyNode("whoever", "node-2"))) {
      assertThat(AdsTestClient.Delta.resourceNames(envoy.subscribeResponseAck(ResourceType.LISTENER)))
          .containsExactly("pod/default/p2/outbound");
      assertThat(onlyClient().getAuthorization()).contains("--node-auth=none");
    }
  }

  @Test
  void aBoundTokenOfTheEnvoyPodOnTheClaimedNodeGrantsItsViewFromAnyAddress() {
    start(NodeAuthMode.TOKEN, false);
    tokens.accept("good", ENVOY_NAMESPACE, "envoy-a", "node-1");
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "good"), envoyNode("envoy-a", "node-1"))) {
      assertThat(AdsTestClient.Delta.resourceNames(envoy.subscribeResponseAck(ResourceType.LISTENER)))
          .containsExactly("pod/default/p1/outbound");
      assertThat(onlyClient().getAuthorization())
          .isEqualTo("bound service account token of pod nodemesh-system/envoy-a on node node-1 (TokenReview)");
      assertThat(tokens.reviewed).containsExactly("good");
    }
  }

  @Test
  void aTokenOfAnotherPodOrNodeOrARefusedTokenOrNoTokenIsDenied() {
    start(NodeAuthMode.TOKEN, false);
    tokens.accept("envoy-a-token", ENVOY_NAMESPACE, "envoy-a", "node-1");
    tokens.accept("tenant-token", "tenant", "envoy-b", "node-1");
    Map<String, String> cases = Map.of(
        "envoy-a-token|envoy-z|node-1", "the token belongs to pod nodemesh-system/envoy-a but the client says node.id envoy-z",
        "envoy-a-token|envoy-a|node-2", "pod nodemesh-system/envoy-a runs on node node-1, not on node node-2",
        "tenant-token|envoy-b|node-1", "the token belongs to pod tenant/envoy-b, outside the Envoy namespace nodemesh-system",
        "forged|envoy-a|node-1", "bearer token refused by the Kubernetes TokenReview API: invalid bearer token",
        "|envoy-a|node-1", "node node-1 claimed without a bearer token (authorization metadata)");
    cases.forEach((attempt, reason) -> {
      String[] parts = attempt.split("\\|");
      String token = parts[0].isEmpty() ? null : parts[0];
      try (var client = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, token), envoyNode(parts[1], parts[2]))) {
        client.subscribe(ResourceType.LISTENER);
        Status status = Status.fromThrowable(client.awaitError());
        assertThat(status.getCode()).as(attempt).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(status.getDescription()).as(attempt).isEqualTo(reason);
        assertThat(client.queued()).isZero();
      }
    });
    assertThat(server.xds.metrics().authDenied())
        .containsEntry("token_mismatch", 3L).containsEntry("token_invalid", 1L).containsEntry("token_missing", 1L);
  }

  @Test
  void aProxylessClientWithAValidTokenStillGetsOnlyNodeIndependentResources() {
    start(NodeAuthMode.TOKEN, false);
    tokens.accept("app-token", "default", "frontend-1", "node-1");
    try (var client = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "app-token"), bareNode("frontend-1"))) {
      assertThat(client.subscribeResponseAck(ResourceType.LISTENER, "*").getResourcesList())
          .extracting(io.envoyproxy.envoy.service.discovery.v3.Resource::getName)
          .doesNotContain("pod/default/p1/outbound", "pod/default/p2/outbound");
      assertThat(onlyClient().getNodeName()).isEmpty();
    }
  }

  @Test
  void peerOrTokenAcceptsEitherProof() {
    start(NodeAuthMode.PEER_OR_TOKEN, false);
    tokens.accept("good", ENVOY_NAMESPACE, "envoy-a", "node-1");
    try (var byPeer = AdsTestClient.Delta.connect(server.channelFrom(NODE_2_ADDRESS), envoyNode("envoy-n2", "node-2"));
        var byToken = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "good"), envoyNode("envoy-a", "node-1"))) {
      assertThat(AdsTestClient.Delta.resourceNames(byPeer.subscribeResponseAck(ResourceType.LISTENER)))
          .containsExactly("pod/default/p2/outbound");
      assertThat(AdsTestClient.Delta.resourceNames(byToken.subscribeResponseAck(ResourceType.LISTENER)))
          .containsExactly("pod/default/p1/outbound");
    }
    try (var neither = AdsTestClient.Delta.connect(server.channelFrom(STRANGER), envoyNode("envoy-a", "node-1"))) {
      neither.subscribe(ResourceType.LISTENER);
      Status status = Status.fromThrowable(neither.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription()).contains("without a bearer token").contains("peer 127.0.0.99 is neither");
    }
  }

  @Test
  void aSlowTokenReviewHoldsTheFirstRequestAndAnswersItOnceTheReviewCompletes() {
    start(NodeAuthMode.TOKEN, false);
    CompletableFuture<ReviewedToken> slow = tokens.hold("slow");
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "slow"), envoyNode("envoy-a", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      envoy.expectNoResponse();
      assertThat(server.clients()).isEmpty();

      slow.complete(FakeTokens.bound(ENVOY_NAMESPACE, "envoy-a", "node-1"));

      assertThat(AdsTestClient.Delta.resourceNames(envoy.awaitResponse(ResourceType.LISTENER)))
          .containsExactly("pod/default/p1/outbound");
    }
  }

  @Test
  void aTokenReviewThatCannotReachTheApiEndsTheStreamWithUnavailableSoTheClientRetries() {
    start(NodeAuthMode.TOKEN, false);
    tokens.hold("any").completeExceptionally(new IllegalStateException("connection refused"));
    try (var envoy = AdsTestClient.Delta.connect(server.channelFrom(STRANGER, "any"), envoyNode("envoy-a", "node-1"))) {
      envoy.subscribe(ResourceType.LISTENER);
      Status status = Status.fromThrowable(envoy.awaitError());
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(status.getDescription()).contains("connection refused");
    }
  }

  /** A TokenReview stand-in: tokens it accepts, with their claims; anything else is refused. */
  static final class FakeTokens implements io.nodemesh.security.TokenReviewer {
    private final Map<String, CompletableFuture<ReviewedToken>> answers = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.List<String> reviewed = new java.util.concurrent.CopyOnWriteArrayList<>();

    static ReviewedToken bound(String namespace, String pod, String node) {
      return new ReviewedToken(true, "", "system:serviceaccount:" + namespace + ":default", Optional.of(pod),
          Optional.of("uid-" + pod), Optional.of(node), Optional.of(Instant.now().plusSeconds(3600)));
    }

    void accept(String token, String namespace, String pod, String node) {
      answers.put(token, CompletableFuture.completedFuture(bound(namespace, pod, node)));
    }

    CompletableFuture<ReviewedToken> hold(String token) {
      CompletableFuture<ReviewedToken> answer = new CompletableFuture<>();
      answers.put(token, answer);
      return answer;
    }

    @Override
    public CompletableFuture<ReviewedToken> review(String token) {
      reviewed.add(token);
      return answers.getOrDefault(token,
          CompletableFuture.completedFuture(ReviewedToken.rejected("invalid bearer token")));
    }
  }
}
