package io.nodemesh.security;

import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.xds.Authorization;
import io.nodemesh.xds.ClientAuthorizer;
import io.nodemesh.xds.ClientCredentials;
import io.nodemesh.xds.NodeIdentity;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Node authorization (issue 9 item 1): which node's view an xDS client may receive.
 *
 * <ul>
 *   <li>A client that <em>claims</em> a node ({@code node.metadata.node_name}, as the chart's Envoys do) gets
 *       that node's view if the mode's check passes, and is refused with PERMISSION_DENIED otherwise.
 *   <li>A client that claims no node (no {@code node_name}: proxyless gRPC clients) gets node-independent
 *       resources only — unless its {@code node.id} is itself a node name and the peer check binds it to that
 *       node (an Envoy configured the old way, with {@code node.id} = node name). It must present a bearer
 *       token the API server accepts, unless anonymous node-independent clients are allowed
 *       ({@code --xds-allow-anonymous-clients}). Such a client is placed on the node of its token's pod, or of
 *       its peer address ({@link ClientLocality}), and served its locality's trafficDistribution variants.
 *   <li>A bearer token that the API server refuses is refused, whatever the client claims.
 *   <li>{@link NodeAuthMode#NONE}: everyone gets the node they claim.
 * </ul>
 *
 * <p>Thread-safe; the peer check is synchronous, a token check completes when the TokenReview does.
 */
public final class NodeAuthorizer implements ClientAuthorizer {

  private final NodeAuthMode mode;
  private final PeerBinding peerBinding;
  private final TokenReviewer tokens;
  private final Supplier<ClusterState> state;
  private final boolean allowAnonymous;
  private final ClientLocality locality;

  /**
   * {@code tokens} may be null unless the mode uses tokens; {@code allowAnonymous}: whether a client that claims
   * no node and presents no token still gets node-independent resources. A client the state cannot place yet is
   * admitted at once, without a locality.
   */
  public NodeAuthorizer(NodeAuthMode mode, PeerBinding peerBinding, TokenReviewer tokens,
      Supplier<ClusterState> state, boolean allowAnonymous) {
    this(mode, peerBinding, tokens, state, allowAnonymous, Duration.ZERO);
  }

  /**
   * As above; a client that claims no node and that the state cannot place yet is looked for again for up to
   * {@code placementWait} before it is admitted without a locality ({@code --proxyless-placement-wait}).
   */
  public NodeAuthorizer(NodeAuthMode mode, PeerBinding peerBinding, TokenReviewer tokens,
      Supplier<ClusterState> state, boolean allowAnonymous, Duration placementWait) {
    this.mode = Objects.requireNonNull(mode, "mode");
    this.peerBinding = Objects.requireNonNull(peerBinding, "peerBinding");
    this.tokens = tokens;
    this.state = Objects.requireNonNull(state, "state");
    this.allowAnonymous = allowAnonymous;
    this.locality = new ClientLocality(state, placementWait);
    if (mode.usesToken() && tokens == null) {
      throw new IllegalArgumentException("--node-auth=" + mode + " needs a token reviewer");
    }
  }

  public NodeAuthMode mode() {
    return mode;
  }

  @Override
  public boolean enforcing() {
    return mode != NodeAuthMode.NONE;
  }

  @Override
  public CompletableFuture<Authorization> authorize(ClientCredentials client) {
    NodeIdentity claimed = client.claimed();
    boolean claims = claimed.nodeNameFromMetadata();
    if (mode == NodeAuthMode.NONE) {
      Authorization claimedView = ClientAuthorizer.ALLOW_ALL.authorize(client).join();
      return claims ? done(claimedView) : locatedByPeer(claimedView, client);
    }
    PeerBinding.Result peer = null;
    if (mode.usesPeer()) {
      peer = peerBinding.check(client, state.get());
      if (peer.ok()) {
        return done(Authorization.node(claimed.nodeName(), peer.label(), peer.text()));
      }
    }
    if (!mode.usesToken() || client.bearerToken().isEmpty()) {
      if (!claims) {
        if (!allowAnonymous) {
          return done(Authorization.denied("anonymous",
              "a client that claims no node_name must authenticate with a bearer token (--node-auth=peer-or-token)"
                  + (mode.usesToken() ? "" : "; this server runs --node-auth=" + mode.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'))
                  + ", or the server must allow anonymous clients (--xds-allow-anonymous-clients)"));
        }
        return locatedByPeer(Authorization.sharedOnly("shared_only",
            "no node_name claimed: node-independent resources only (anonymous, --xds-allow-anonymous-clients)",
            "peer:" + client.peerText()), client);
      }
      if (!mode.usesToken()) {
        return done(Authorization.denied(peer.label(), peer.text()));
      }
      return done(Authorization.denied("token_missing",
          "node " + claimed.nodeName() + " claimed without a bearer token (authorization metadata)"
              + (peer == null ? "" : "; " + peer.text())));
    }
    PeerBinding.Result peerResult = peer;
    CompletableFuture<ReviewedToken> review = tokens.review(client.bearerToken().get(), client.peerText());
    CompletableFuture<Authorization> decision =
        review.thenCompose(reviewed -> decide(claimed, reviewed, peerResult));
    // a stream that closes while its review waits cancels the decision: withdraw the review too
    decision.whenComplete((result, error) -> {
      if (decision.isCancelled()) {
        review.cancel(false);
      }
    });
    return decision;
  }

  private CompletableFuture<Authorization> decide(NodeIdentity claimed, ReviewedToken review,
      PeerBinding.Result peer) {
    String who = review.namespace().orElse("?") + "/" + review.podName().orElse("?");
    if (review.authenticated() && !claimed.nodeNameFromMetadata()) {
      Authorization shared = Authorization.sharedOnly("token_shared_only",
          "token of " + review.username() + " (pod " + who + "); no node_name claimed: node-independent"
              + " resources only", "sa:" + review.username() + "/" + who);
      boolean boundToPod = review.nodeName().isPresent() || review.podName().isPresent();
      return locality.place(shared, current -> nodeOfTokenPod(review, current), "the node of the token's pod " + who,
          boundToPod);
    }
    return done(decideNode(claimed, review, peer, who));
  }

  private Authorization decideNode(NodeIdentity claimed, ReviewedToken review, PeerBinding.Result peer, String who) {
    String peerNote = peer == null ? "" : "; " + peer.text();
    if (!review.authenticated()) {
      return Authorization.denied("token_invalid", "bearer token refused by the Kubernetes TokenReview API: "
          + review.error() + peerNote);
    }
    if (review.podName().isEmpty() || review.namespace().isEmpty()) {
      return Authorization.denied("token_mismatch", "the token of " + review.username()
          + " is not a pod-bound service account token (no pod-name claim)" + peerNote);
    }
    String namespace = review.namespace().get();
    String podName = review.podName().get();
    String envoyNamespace = peerBinding.envoyNamespace();
    if (!envoyNamespace.isEmpty() && !namespace.equals(envoyNamespace)) {
      return Authorization.denied("token_mismatch", "the token belongs to pod " + who + ", outside the Envoy"
          + " namespace " + envoyNamespace + peerNote);
    }
    if (!podName.equals(claimed.nodeId())) {
      return Authorization.denied("token_mismatch", "the token belongs to pod " + who + " but the client says"
          + " node.id " + claimed.nodeId() + peerNote);
    }
    Optional<PodInfo> pod = state.get().pod(ObjectKey.of(namespace, podName));
    if (pod.isPresent() && review.podUid().isPresent() && !pod.get().uid().isEmpty()
        && !pod.get().uid().equals(review.podUid().get())) {
      return Authorization.denied("token_mismatch", "the token belongs to an earlier pod named " + who
          + " (uid " + review.podUid().get() + ")" + peerNote);
    }
    Optional<String> node = review.nodeName().or(() -> pod.flatMap(PodInfo::nodeName));
    if (node.isEmpty()) {
      return Authorization.denied("token_mismatch", "cannot tell which node pod " + who + " runs on: the token"
          + " has no node-name claim and the pod is not in the cluster state" + peerNote);
    }
    if (!node.get().equals(claimed.nodeName())) {
      return Authorization.denied("token_mismatch", "pod " + who + " runs on node " + node.get()
          + ", not on node " + claimed.nodeName() + peerNote);
    }
    return Authorization.node(claimed.nodeName(), "token",
        "bound service account token of pod " + who + " on node " + node.get() + " (TokenReview)");
  }

  /**
   * A client that claims no node is placed where its peer address is (its principal, when anonymous); a loopback
   * peer is never a pod, so it is not waited for.
   */
  private CompletableFuture<Authorization> locatedByPeer(Authorization decision, ClientCredentials client) {
    Optional<InetAddress> peer = client.peerAddress();
    return locality.place(decision, current -> ClientLocality.nodeOfPeer(current, peer),
        ClientLocality.peerNote(peer), peer.isPresent() && !peer.get().isLoopbackAddress());
  }

  /**
   * The node of the pod a token is bound to: the token's node-name claim, else the node of that pod in the state
   * (the same pod: same uid when both are known).
   */
  private static Optional<String> nodeOfTokenPod(ReviewedToken review, ClusterState state) {
    if (review.nodeName().isPresent()) {
      return review.nodeName();
    }
    if (review.namespace().isEmpty() || review.podName().isEmpty()) {
      return Optional.empty();
    }
    return state.pod(ObjectKey.of(review.namespace().get(), review.podName().get()))
        .filter(pod -> review.podUid().isEmpty() || pod.uid().isEmpty() || pod.uid().equals(review.podUid().get()))
        .flatMap(PodInfo::nodeName);
  }

  private static CompletableFuture<Authorization> done(Authorization authorization) {
    return CompletableFuture.completedFuture(authorization);
  }
}
