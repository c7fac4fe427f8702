package io.nodemesh.security;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Reviews tokens with {@code POST /apis/authentication.k8s.io/v1/tokenreviews} (the control plane's
 * ClusterRole needs {@code create} on {@code tokenreviews}). The request names our audience, so a token
 * minted for another audience (e.g. the API server's own) is not accepted. Calls run on {@code executor}.
 */
public final class KubernetesTokenReviewer implements TokenReviewer {

  static final String POD_NAME = "authentication.kubernetes.io/pod-name";
  static final String POD_UID = "authentication.kubernetes.io/pod-uid";
  static final String NODE_NAME = "authentication.kubernetes.io/node-name";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesClient client;
  private final List<String> audiences;
  private final Executor executor;

  /** {@code audience} empty: the API server's default audiences. */
  public KubernetesTokenReviewer(KubernetesClient client, String audience, Executor executor) {
    this.client = client;
    this.audiences = audience == null || audience.isEmpty() ? List.of() : List.of(audience);
    this.executor = executor;
  }

  @Override
  public CompletableFuture<ReviewedToken> review(String token) {
    return CompletableFuture.supplyAsync(() -> {
      TokenReview request = new TokenReviewBuilder()
          .withNewSpec().withToken(token).withAudiences(audiences).endSpec()
          .build();
      TokenReview answer = client.tokenReviews().create(request);
      return reviewed(answer == null ? null : answer.getStatus(), expiryOf(token));
    }, executor);
  }

  static ReviewedToken reviewed(TokenReviewStatus status, Optional<Instant> expiry) {
    if (status == null) {
      return ReviewedToken.rejected("the TokenReview API returned no status");
    }
    if (!Boolean.TRUE.equals(status.getAuthenticated())) {
      return ReviewedToken.rejected(status.getError() == null || status.getError().isEmpty()
          ? "not authenticated" : status.getError());
    }
    UserInfo user = status.getUser();
    Map<String, List<String>> extra = user == null || user.getExtra() == null ? Map.of() : user.getExtra();
    return new ReviewedToken(true, "", user == null ? "" : user.getUsername(),
        first(extra, POD_NAME), first(extra, POD_UID), first(extra, NODE_NAME), expiry);
  }

  private static Optional<String> first(Map<String, List<String>> extra, String key) {
    List<String> values = extra.get(key);
    return values == null || values.isEmpty() || values.get(0) == null || values.get(0).isEmpty()
        ? Optional.empty() : Optional.of(values.get(0));
  }

  /**
   * The {@code exp} claim of a JWT, read without verifying the signature: only used to bound how long the
   * API server's verdict is cached, never to accept a token.
   */
  static Optional<Instant> expiryOf(String token) {
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3) {
      return Optional.empty();
    }
    try {
      JsonNode payload = JSON.readTree(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
      JsonNode exp = payload == null ? null : payload.get("exp");
      return exp != null && exp.canConvertToLong() ? Optional.of(Instant.ofEpochSecond(exp.asLong())) : Optional.empty();
    } catch (Exception e) {
      return Optional.empty();
    }
  }
}
