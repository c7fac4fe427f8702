package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableSet;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.xds.StreamAdmission.Refusal;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Admission alone, without a server: first request, authorization, deadline, names, rate. */
class StreamAdmissionTest {

  private static final ClientConnection CONNECTION =
      new ClientConnection(new InetSocketAddress("10.0.0.7", 40000), Optional.of("secret-token"));

  /** Authorizes with what the test completes; remembers what it was asked. */
  private static final class PendingAuthorizer implements ClientAuthorizer {
    final List<ClientCredentials> asked = new ArrayList<>();
    final CompletableFuture<Authorization> decision = new CompletableFuture<>();

    @Override
    public CompletableFuture<Authorization> authorize(ClientCredentials client) {
      asked.add(client);
      return decision;
    }
  }

  private TestStreamContext context;

  private StreamAdmission admission(XdsServerOptions options) {
    context = new TestStreamContext(options);
    return new StreamAdmission(context, 7, XdsProtocol.DELTA, CONNECTION, null, new LogThrottle(60_000));
  }

  private static Node node(String id) {
    return Node.newBuilder().setId(id).build();
  }

  @Test
  void aFirstRequestWithoutANodeIdIsRefused() {
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS);

    Refusal refusal = admission.checkNode(Node.getDefaultInstance());

    assertThat(refusal.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refusal.status().getDescription()).isEqualTo("the first request must carry node.id");
    assertThat(context.metrics().snapshot().badRequests()).containsEntry(XdsMetrics.BadRequest.MISSING_NODE, 1L);
    assertThat(admission.checkNode(node("envoy-1"))).isNull();
  }

  @Test
  void aPendingAuthorizationHoldsTheStreamUntilItIsAppliedAndTheTokenIsHandedOverOnce() {
    PendingAuthorizer authorizer = new PendingAuthorizer();
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withAuthorizer(authorizer));
    NodeIdentity claimed = NodeIdentity.of(node("node-1"));

    CompletableFuture<Authorization> decision = admission.authorize(claimed);
    assertThat(admission.deciding()).isTrue();
    assertThat(admission.identity()).isNull();
    assertThat(authorizer.asked.get(0).bearerToken()).contains("secret-token");
    assertThat(authorizer.asked.get(0).claimed()).isEqualTo(claimed);

    authorizer.decision.complete(Authorization.node("node-1", "peer", "peer address of node-1"));
    assertThat(admission.admit(claimed, decision)).isNull();

    assertThat(admission.deciding()).isFalse();
    assertThat(admission.identity()).isEqualTo(new NodeIdentity("node-1", "node-1", false, "node:node-1", 7));
    assertThat(admission.authorization()).isEqualTo("peer address of node-1");
    assertThat(admission.claimedNode()).isEqualTo("node-1");
    assertThat(context.metrics().snapshot().authorized()).containsEntry("peer", 1L);
    admission.authorize(claimed);
    assertThat(authorizer.asked.get(1).bearerToken()).as("the token is not kept").isEmpty();
  }

  @Test
  void aDeniedClientIsRefusedWithTheAuthorizersCode() {
    ClientAuthorizer denyAll = client -> CompletableFuture.completedFuture(Authorization.denied("no-node", "who?"));
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withAuthorizer(denyAll));
    NodeIdentity claimed = NodeIdentity.of(node("node-1"));

    Refusal refusal = admission.admit(claimed, admission.authorize(claimed));

    assertThat(refusal.status().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(refusal.closeReason()).isEqualTo("refused: who?");
    assertThat(admission.identity()).isNull();
    assertThat(context.metrics().snapshot().authDenied()).containsEntry("no-node", 1L);
  }

  @Test
  void anAuthorizerThatFailsMeansUnavailableNotAllowed() {
    ClientAuthorizer broken = client -> {
      throw new IllegalStateException("TokenReview down");
    };
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withAuthorizer(broken));
    NodeIdentity claimed = NodeIdentity.of(node("node-1"));

    Refusal refusal = admission.admit(claimed, admission.authorize(claimed));

    assertThat(refusal.status().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(refusal.status().getDescription()).contains("TokenReview down");
  }

  @Test
  void closingDropsAPendingAuthorizationAndTheFirstRequestDeadline() {
    PendingAuthorizer authorizer = new PendingAuthorizer();
    StreamAdmission admission =
        admission(XdsServerOptions.DEFAULTS.withAuthorizer(authorizer).withServerLimits(0, 500));
    admission.armFirstRequestDeadline(() -> {});
    admission.authorize(NodeIdentity.of(node("node-1")));

    admission.close();

    assertThat(authorizer.decision).isCancelled();
    assertThat(context.timers).singleElement().satisfies(timer -> {
      assertThat(timer.delayNanos).isEqualTo(500_000_000L);
      assertThat(timer.isCancelled()).isTrue();
    });
  }

  @Test
  void theFirstRequestDeadlineRefusesOnlyAStreamNotAuthorizedYet() {
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withServerLimits(0, 500));
    admission.armFirstRequestDeadline(() -> {});

    Refusal refusal = admission.firstRequestDeadlinePassed();
    assertThat(refusal.status().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(context.metrics().snapshot().limits()).containsEntry(XdsMetrics.Limit.FIRST_REQUEST_DEADLINE, 1L);

    NodeIdentity claimed = NodeIdentity.of(node("node-1"));
    assertThat(admission.admit(claimed, admission.authorize(claimed))).isNull();
    assertThat(context.timers.get(0).isCancelled()).as("authorized: the deadline lets go").isTrue();
    assertThat(admission.firstRequestDeadlinePassed()).isNull();
  }

  @Test
  void withEnforcedAuthorizationNodePrivateNamesCannotBeSubscribedByName() {
    ClientAuthorizer enforcing = client -> CompletableFuture.completedFuture(Authorization.node("node-1", "t", "t"));
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withAuthorizer(enforcing)
        .withNodePrivateName(name -> name.startsWith("private/")));

    assertThat(admission.subscribable(ResourceType.LISTENER, "private/p/outbound")).isFalse();
    assertThat(admission.subscribable(ResourceType.LISTENER, "private/q/outbound")).isFalse();
    assertThat(admission.subscribable(ResourceType.LISTENER, "shared/listener")).isTrue();
    assertThat(admission.subscribable(ResourceType.CLUSTER, "x".repeat(XdsTunables.MAX_RESOURCE_NAME_CHARS + 1)))
        .isFalse();
    assertThat(context.metrics().snapshot().badRequests())
        .containsEntry(XdsMetrics.BadRequest.NODE_PRIVATE_NAME, 2L)
        .containsEntry(XdsMetrics.BadRequest.NAME_TOO_LONG, 1L);
  }

  @Test
  void withoutEnforcedAuthorizationEveryNameMayBeSubscribed() {
    StreamAdmission admission =
        admission(XdsServerOptions.DEFAULTS.withNodePrivateName(name -> name.startsWith("private/")));

    assertThat(admission.subscribable(ResourceType.LISTENER, "private/p/outbound")).isTrue();
  }

  @Test
  void aSharedOnlyClientGetsTheEndpointsItNamesButNoWildcardOverTheCluster() {
    ClientAuthorizer sharedOnly =
        client -> CompletableFuture.completedFuture(Authorization.sharedOnly("anonymous", "no node", "peer:10.0.0.7"));
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withAuthorizer(sharedOnly));
    NodeIdentity claimed = NodeIdentity.of(node("grpc-client"));
    assertThat(admission.admit(claimed, admission.authorize(claimed))).isNull();
    Subscription wildcard = new Subscription(true, ImmutableSet.of("svc/default/echo/80"));

    assertThat(admission.admissible(ResourceType.ENDPOINT, wildcard))
        .isEqualTo(new Subscription(false, ImmutableSet.of("svc/default/echo/80")));
    assertThat(admission.admissible(ResourceType.CLUSTER, wildcard)).as("its (empty) node view").isEqualTo(wildcard);
    assertThat(context.metrics().snapshot().badRequests())
        .containsEntry(XdsMetrics.BadRequest.SHARED_ONLY_WILDCARD, 1L);
  }

  @Test
  void subscribedNamesCountOverAllTypesAndAResubscriptionReplacesItsTypesNames() {
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withMaxSubscribedNames(3));

    assertThat(admission.subscribed(ResourceType.ENDPOINT, Set.of("a", "b"))).isNull();
    assertThat(admission.subscribed(ResourceType.ENDPOINT, Set.of("a", "c"))).isNull();
    assertThat(admission.subscribed(ResourceType.ROUTE, Set.of("r"))).isNull();
    Refusal refusal = admission.subscribed(ResourceType.CLUSTER, Set.of("c"));

    assertThat(refusal.status().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refusal.status().getDescription()).startsWith("subscribed to 4 resource names, more than the limit of 3");
    assertThat(context.metrics().snapshot().limits()).containsEntry(XdsMetrics.Limit.SUBSCRIBED_NAMES, 1L);
  }

  @Test
  void aClientOverItsRequestRateIsReadLaterNotCut() {
    StreamAdmission admission = admission(XdsServerOptions.DEFAULTS.withRequestRate(1, 2));

    assertThat(admission.readDelayNanos()).isZero();
    assertThat(admission.readDelayNanos()).isZero();
    assertThat(admission.readDelayNanos()).isPositive();
    assertThat(context.metrics().snapshot().limits()).containsEntry(XdsMetrics.Limit.REQUEST_RATE, 1L);
    assertThat(admission(XdsServerOptions.DEFAULTS).readDelayNanos()).as("no rate limit").isZero();
  }
}
