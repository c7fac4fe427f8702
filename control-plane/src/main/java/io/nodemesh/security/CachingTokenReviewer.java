package io.nodemesh.security;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Caches reviews so a reconnecting Envoy does not cost an API call: an accepted token until its own
 * expiry, at most {@code maxTtl} (a bound token of a deleted pod stops working at the API server at once,
 * here at the latest after {@code maxTtl}); a refused one for {@code negativeTtl}, so a client retrying a
 * bad token does not hammer the API. Bounded by {@code maxEntries} (least recently used go first); keys are
 * SHA-256 digests, never tokens. Concurrent reviews of the same token share one API call, and a call nobody
 * waits for any more (every stream that asked was cancelled) is cancelled, so a queued review is dropped.
 * Reviews that need an API call are limited per requester (client address): a client cannot turn random tokens
 * into a stream of API calls. Failures (API unreachable, rate exceeded) are not cached. Thread-safe.
 */
public final class CachingTokenReviewer implements TokenReviewer {

  /** Requesters whose review rate is tracked at most (least recently seen go first). */
  private static final int MAX_TRACKED_REQUESTERS = 10_000;
  /** A requester may spend this many seconds' worth of reviews at once. */
  private static final int BURST_SECONDS = 10;

  private record Cached(ReviewedToken review, Instant until) {}

  /** One API call and how many callers still wait for it. Guarded by {@code inFlight}. */
  private static final class Shared {
    final CompletableFuture<ReviewedToken> result = new CompletableFuture<>();
    CompletableFuture<ReviewedToken> call;
    int waiters;
  }

  /** Review budget of one requester: a token bucket on the injected clock. Guarded by itself. */
  private static final class Budget {
    double tokens;
    long refilledAtMillis;
  }

  private final TokenReviewer delegate;
  private final Clock clock;
  private final Duration maxTtl;
  private final Duration negativeTtl;
  private final double reviewsPerSecond;
  private final Cache<String, Cached> cache;
  private final Cache<String, Budget> budgets;
  private final Map<String, Shared> inFlight = new HashMap<>();

  /** A cache without a per-requester rate limit. */
  public CachingTokenReviewer(
      TokenReviewer delegate, Clock clock, int maxEntries, Duration maxTtl, Duration negativeTtl) {
    this(delegate, clock, maxEntries, maxTtl, negativeTtl, 0);
  }

  /** A cache allowing each requester {@code reviewsPerSecond} API reviews (bursts of 10 s worth; 0: no limit). */
  public CachingTokenReviewer(TokenReviewer delegate, Clock clock, int maxEntries, Duration maxTtl,
      Duration negativeTtl, double reviewsPerSecond) {
    this.delegate = delegate;
    this.clock = clock;
    this.maxTtl = maxTtl;
    this.negativeTtl = negativeTtl;
    this.reviewsPerSecond = reviewsPerSecond;
    this.cache = CacheBuilder.newBuilder().maximumSize(maxEntries).build();
    this.budgets = CacheBuilder.newBuilder().maximumSize(MAX_TRACKED_REQUESTERS)
        .expireAfterAccess(BURST_SECONDS * 2L, TimeUnit.SECONDS).build();
  }

  @Override
  public CompletableFuture<ReviewedToken> review(String token) {
    return review(token, "");
  }

  @Override
  public CompletableFuture<ReviewedToken> review(String token, String requester) {
    String key = Hashing.sha256().hashString(token, StandardCharsets.UTF_8).toString();
    Instant now = clock.instant();
    Cached cached = cache.getIfPresent(key);
    if (cached != null) {
      if (now.isBefore(cached.until())) {
        return CompletableFuture.completedFuture(cached.review());
      }
      cache.invalidate(key);
    }
    Shared shared;
    boolean first = false;
    synchronized (inFlight) {
      shared = inFlight.get(key);
      if (shared == null) {
        if (!spend(requester)) {
          return CompletableFuture.failedFuture(new IllegalStateException("too many token reviews from "
              + (requester.isEmpty() ? "this client" : requester) + " (--node-auth-token-review-rate)"));
        }
        shared = new Shared();
        inFlight.put(key, shared);
        first = true;
      }
      shared.waiters++;
    }
    CompletableFuture<ReviewedToken> mine = shared.result.thenApply(review -> review);
    Shared ours = shared;
    mine.whenComplete((review, error) -> {
      if (mine.isCancelled()) {
        leave(key, ours);
      }
    });
    if (first) {
      call(token, key, shared);
    }
    return mine;
  }

  private void call(String token, String key, Shared shared) {
    CompletableFuture<ReviewedToken> call;
    try {
      call = delegate.review(token);
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    synchronized (inFlight) {
      shared.call = call;
      if (shared.waiters == 0) {
        call.cancel(false);
      }
    }
    call.whenComplete((review, error) -> {
      if (error == null && review != null) {
        cache.put(key, new Cached(review, until(review)));
      }
      synchronized (inFlight) {
        inFlight.remove(key, shared);
      }
      if (error != null) {
        shared.result.completeExceptionally(error);
      } else {
        shared.result.complete(review);
      }
    });
  }

  /** A waiter was cancelled: when it was the last one, the API call is cancelled (dropped if still queued). */
  private void leave(String key, Shared shared) {
    synchronized (inFlight) {
      shared.waiters--;
      if (shared.waiters > 0) {
        return;
      }
      inFlight.remove(key, shared);
      if (shared.call != null) {
        shared.call.cancel(false);
      }
    }
  }

  /** Takes one review from the requester's budget; false when it has none left. Called under the in-flight lock. */
  private boolean spend(String requester) {
    if (reviewsPerSecond <= 0) {
      return true;
    }
    long now = clock.millis();
    double capacity = reviewsPerSecond * BURST_SECONDS;
    Budget budget = budgets.getIfPresent(requester);
    if (budget == null) {
      budget = new Budget();
      budget.tokens = capacity;
      budget.refilledAtMillis = now;
      budgets.put(requester, budget);
    }
    budget.tokens = Math.min(capacity, budget.tokens + (now - budget.refilledAtMillis) * reviewsPerSecond / 1000.0);
    budget.refilledAtMillis = now;
    if (budget.tokens < 1) {
      return false;
    }
    budget.tokens--;
    return true;
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
