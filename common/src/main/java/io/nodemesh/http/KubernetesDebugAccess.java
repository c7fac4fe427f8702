package io.nodemesh.http;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import com.google.common.hash.Hashing;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Kubernetes authentication and authorization for the debug endpoints, the way kube-rbac-proxy guards metrics: the
 * bearer token is checked with a TokenReview ({@code authentication.k8s.io/v1}, the API server's default audiences,
 * so {@code kubectl create token} and in-cluster service account tokens work), then a SubjectAccessReview
 * ({@code authorization.k8s.io/v1}) asks whether that user, with its groups, may {@code get} the non-resource URL
 * {@value #RBAC_PATH}. RBAC grants it with a ClusterRole rule {@code nonResourceURLs: ["/debug/nodemesh"],
 * verbs: ["get"]} (cluster admins already have it). Verdicts are cached in a bounded cache keyed by the SHA-256 of
 * the token, never the token: allowed ones for {@link #ALLOWED_TTL}, refusals for {@link #REFUSED_TTL}; failures to
 * reach the API are not cached. API calls run on {@code executor} and give up after {@link #CALL_TIMEOUT}.
 */
public final class KubernetesDebugAccess implements DebugAccess {

  /** The non-resource URL a SubjectAccessReview checks {@code get} on. */
  public static final String RBAC_PATH = "/debug/nodemesh";
  static final Duration ALLOWED_TTL = Duration.ofSeconds(60);
  static final Duration REFUSED_TTL = Duration.ofSeconds(10);
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
  private static final int MAX_CACHED_VERDICTS = 1_000;

  /** The two API calls, apart so tests can answer them without an API server. */
  public interface Reviews {
    TokenReviewStatus tokenReview(String token);

    SubjectAccessReviewStatus accessReview(UserInfo user, String path, String verb);

    /** The real calls through {@code client} (create on tokenreviews and subjectaccessreviews). */
    static Reviews of(KubernetesClient client) {
      return new Reviews() {
        @Override
        public TokenReviewStatus tokenReview(String token) {
          TokenReview answer = client.tokenReviews()
              .create(new TokenReviewBuilder().withNewSpec().withToken(token).endSpec().build());
          return answer == null ? null : answer.getStatus();
        }

        @Override
        public SubjectAccessReviewStatus accessReview(UserInfo user, String path, String verb) {
          SubjectAccessReview answer = client.authorization().v1().subjectAccessReview().create(
              new SubjectAccessReviewBuilder().withNewSpec()
                  .withUser(user.getUsername())
                  .withUid(user.getUid())
                  .withGroups(user.getGroups())
                  .withExtra(user.getExtra())
                  .withNewNonResourceAttributes().withPath(path).withVerb(verb).endNonResourceAttributes()
                  .endSpec().build());
          return answer == null ? null : answer.getStatus();
        }
      };
    }
  }

  private record Cached(Verdict verdict, Instant until) {}

  private final Reviews reviews;
  private final Executor executor;
  private final Clock clock;
  private final Cache<String, Cached> cache = CacheBuilder.newBuilder().maximumSize(MAX_CACHED_VERDICTS).build();

  public KubernetesDebugAccess(Reviews reviews, Executor executor, Clock clock) {
    this.reviews = reviews;
    this.executor = executor;
    this.clock = clock;
  }

  @Override
  public CompletableFuture<Verdict> check(String authorizationHeader) {
    Optional<String> token = DebugAccess.bearerToken(authorizationHeader);
    if (token.isEmpty()) {
      return CompletableFuture.completedFuture(Verdict.refused(Outcome.UNAUTHENTICATED, "",
          "no bearer token (Authorization: Bearer <token>, e.g. from kubectl create token)"));
    }
    String key = Hashing.sha256().hashString(token.get(), StandardCharsets.UTF_8).toString();
    Cached cached = cache.getIfPresent(key);
    if (cached != null && clock.instant().isBefore(cached.until())) {
      return CompletableFuture.completedFuture(cached.verdict());
    }
    CompletableFuture<Verdict> review;
    try {
      review = CompletableFuture.supplyAsync(() -> review(token.get()), executor);
    } catch (RuntimeException e) { // the executor refused: overloaded or shutting down
      return CompletableFuture.completedFuture(unavailable(e));
    }
    return review
        .orTimeout(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .thenApply(verdict -> {
          Duration ttl = verdict.isAllowed() ? ALLOWED_TTL : REFUSED_TTL;
          cache.put(key, new Cached(verdict, clock.instant().plus(ttl)));
          return verdict;
        })
        .exceptionally(KubernetesDebugAccess::unavailable);
  }

  private Verdict review(String token) {
    TokenReviewStatus authentication = reviews.tokenReview(token);
    if (authentication == null || !Boolean.TRUE.equals(authentication.getAuthenticated())
        || authentication.getUser() == null || authentication.getUser().getUsername() == null) {
      String error = authentication == null || authentication.getError() == null || authentication.getError().isEmpty()
          ? "not authenticated" : authentication.getError();
      return Verdict.refused(Outcome.UNAUTHENTICATED, "", "TokenReview: " + error);
    }
    UserInfo user = authentication.getUser();
    SubjectAccessReviewStatus access = reviews.accessReview(user, RBAC_PATH, "get");
    if (access != null && Boolean.TRUE.equals(access.getAllowed())) {
      return Verdict.allowed(user.getUsername());
    }
    String why = access == null ? "no answer" : access.getReason() != null && !access.getReason().isEmpty()
        ? access.getReason() : access.getEvaluationError() != null && !access.getEvaluationError().isEmpty()
        ? access.getEvaluationError() : "no RBAC rule allows it";
    return Verdict.refused(Outcome.FORBIDDEN, user.getUsername(),
        "user may not get non-resource URL " + RBAC_PATH + " (" + why + ")");
  }

  private static Verdict unavailable(Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    String what = cause instanceof TimeoutException
        ? "no answer within " + CALL_TIMEOUT.toSeconds() + " s" : cause.getClass().getSimpleName();
    return Verdict.refused(Outcome.UNAVAILABLE, "", "the Kubernetes API could not review the token: " + what);
  }

  @Override
  public String description() {
    return "token-review (TokenReview, then SubjectAccessReview: get " + RBAC_PATH + ")";
  }

  /** Verdicts cached (for tests). */
  long cachedVerdicts() {
    return cache.size();
  }
}
