package io.nodemesh.security;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Caches reviews so a reconnecting Envoy does not cost an API call: an accepted token until its own
 * expiry, at most {@code maxTtl} (a bound token of a deleted pod stops working at the API server at once,
 * here at the latest after {@code maxTtl}); a refused one for {@code negativeTtl}, so a client retrying a
 * bad token does not hammer the API. Bounded by {@code maxEntries} (least recently used go first); keys are
 * SHA-256 digests, never tokens. Concurrent reviews of the same token share one API call. Failures (API
 * unreachable) are not cached. Thread-safe.
 */
public final class CachingTokenReviewer implements TokenReviewer {

  private record Cached(ReviewedToken review, Instant until) {}

  private final TokenReviewer delegate;
  private final Clock clock;
  private final Duration maxTtl;
  private final Duration negativeTtl;
  private final Cache<String, Cached> cache;
  private final Map<String, CompletableFuture<ReviewedToken>> inFlight = new ConcurrentHashMap<>();

  public CachingTokenReviewer(
      TokenReviewer delegate, Clock clock, int maxEntries, Duration maxTtl, Duration negativeTtl) {
    this.delegate = delegate;
    this.clock = clock;
    this.maxTtl = maxTtl;
    this.negativeTtl = negativeTtl;
    this.cache = CacheBuilder.newBuilder().maximumSize(maxEntries).build();
  }

  @Override
  public CompletableFuture<ReviewedToken> review(String token) {
    String key = Hashing.sha256().hashString(token, StandardCharsets.UTF_8).toString();
    Instant now = clock.instant();
    Cached cached = cache.getIfPresent(key);
    if (cached != null) {
      if (now.isBefore(cached.until())) {
        return CompletableFuture.completedFuture(cached.review());
      }
      cache.invalidate(key);
    }
    CompletableFuture<ReviewedToken> created = new CompletableFuture<>();
    CompletableFuture<ReviewedToken> existing = inFlight.putIfAbsent(key, created);
    if (existing != null) {
      return existing;
    }
    CompletableFuture<ReviewedToken> call;
    try {
      call = delegate.review(token);
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete((review, error) -> {
      if (error == null && review != null) {
        cache.put(key, new Cached(review, until(review)));
      }
      inFlight.remove(key, created);
      if (error != null) {
        created.completeExceptionally(error);
      } else {
        created.complete(review);
      }
    });
    return created;
  }

  private Instant until(ReviewedToken review) {
    Instant now = clock.instant();
    if (!review.authenticated()) {
      return now.plus(negativeTtl);
    }
    Instant bound = now.plus(maxTtl);
    return review.expiry().filter(bound::isAfter).orElse(bound);
  }

  /** Cached reviews (for tests and the admin view). */
  public long size() {
    return cache.size();
  }
}
