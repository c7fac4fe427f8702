package io.nodemesh.security;

import java.util.concurrent.CompletableFuture;

/** Checks a bearer token with the Kubernetes API. Implementations are thread-safe and do not block the caller. */
public interface TokenReviewer {

  /** The review; completes exceptionally when the API cannot be asked (then the client may retry). */
  CompletableFuture<ReviewedToken> review(String token);
}
