package io.nodemesh.security;

import java.util.concurrent.CompletableFuture;

/** Checks a bearer token with the Kubernetes API. Implementations are thread-safe and do not block the caller. */
public interface TokenReviewer {

  /** The review; completes exceptionally when the API cannot be asked (then the client may retry). */
  CompletableFuture<ReviewedToken> review(String token);

  /**
   * The review of a token presented by {@code requester} (a client address), which an implementation may use to
   * limit how many API calls one client causes. Cancelling the returned future withdraws the request.
   */
  default CompletableFuture<ReviewedToken> review(String token, String requester) {
    return review(token);
  }
}
