package io.nodemesh.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The TokenReview cache: a token's lifetime at most, refusals briefly, failures never; bounded; one call per token. */
class CachingTokenReviewerTest {

  private static final Instant START = Instant.parse("2030-01-01T00:00:00Z");

  private final MutableClock clock = new MutableClock(START);
  private final Recording api = new Recording();
  private final CachingTokenReviewer cache =
      new CachingTokenReviewer(api, clock, 3, Duration.ofMinutes(10), Duration.ofSeconds(10));

  private static ReviewedToken accepted(Instant expiry) {
    return new ReviewedToken(true, "", "system:serviceaccount:ns:sa", Optional.of("pod"), Optional.empty(),
        Optional.of("node"), Optional.ofNullable(expiry));
  }

  @Test
  void anAcceptedTokenIsReviewedOnceAndTrustedUntilItExpires() {
    api.answer("t", accepted(START.plusSeconds(120)));

    cache.review("t").join();
    clock.advance(Duration.ofSeconds(119));
    cache.review("t").join();
    assertThat(api.calls).containsExactly("t");

    clock.advance(Duration.ofSeconds(1));
    cache.review("t").join();
    assertThat(api.calls).containsExactly("t", "t");
  }

  @Test
  void aLongLivedTokenIsReviewedAgainAfterTheMaximumCacheTime() {
    api.answer("t", accepted(START.plus(Duration.ofDays(365))));

    cache.review("t").join();
    clock.advance(Duration.ofMinutes(10));
    cache.review("t").join();

    assertThat(api.calls).containsExactly("t", "t");
  }

  @Test
  void aRefusedTokenIsRememberedOnlyBriefly() {
    api.answer("bad", ReviewedToken.rejected("invalid"));

    assertThat(cache.review("bad").join().authenticated()).isFalse();
    clock.advance(Duration.ofSeconds(9));
    cache.review("bad").join();
    assertThat(api.calls).hasSize(1);
    clock.advance(Duration.ofSeconds(1));
    cache.review("bad").join();
    assertThat(api.calls).hasSize(2);
  }

  @Test
  void aReviewThatFailedIsNotCachedSoTheNextConnectAttemptAsksAgain() {
    api.fail("t");
    assertThat(cache.review("t")).isCompletedExceptionally();

    api.answer("t", accepted(null));
    assertThat(cache.review("t").join().authenticated()).isTrue();
    assertThat(api.calls).containsExactly("t", "t");
  }

  @Test
  void concurrentReviewsOfOneTokenShareOneApiCall() {
    CompletableFuture<ReviewedToken> pending = api.hold("t");

    CompletableFuture<ReviewedToken> first = cache.review("t");
    CompletableFuture<ReviewedToken> second = cache.review("t");
    pending.complete(accepted(null));

    assertThat(first.join()).isSameAs(second.join());
    assertThat(api.calls).containsExactly("t");
  }

  @Test
  void theCacheIsBoundedAndKeepsNoTokens() {
    for (int i = 0; i < 10; i++) {
      api.answer("token-" + i, accepted(null));
      cache.review("token-" + i).join();
    }
    assertThat(cache.size()).isLessThanOrEqualTo(3);
  }

  @Test
  void eachAddressMayAskForOnlyItsRateOfReviewsAndAnotherAddressIsNotHeldBack() {
    CachingTokenReviewer limited =
        new CachingTokenReviewer(api, clock, 100, Duration.ofMinutes(10), Duration.ofSeconds(10), 1);
    for (int i = 0; i < 10; i++) {
      api.answer("random-" + i, refused());
      assertThat(limited.review("random-" + i, "10.0.0.66").join().authenticated()).isFalse();
    }
    api.answer("one-more", refused());
    assertThat(limited.review("one-more", "10.0.0.66"))
        .failsWithin(Duration.ZERO).withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withMessageContaining("too many token reviews from 10.0.0.66");
    api.answer("envoy", accepted(null));
    assertThat(limited.review("envoy", "10.0.0.7").join().authenticated()).isTrue();
    assertThat(api.calls).hasSize(11).doesNotContain("one-more");

    clock.advance(Duration.ofSeconds(1));
    assertThat(limited.review("one-more", "10.0.0.66").join().authenticated()).isFalse();
  }

  @Test
  void aReviewWhoseEveryWaiterLeftIsCancelledAndOneThatAnotherStillAwaitsIsNot() {
    CompletableFuture<ReviewedToken> call = api.hold("t");
    CompletableFuture<ReviewedToken> first = cache.review("t");
    CompletableFuture<ReviewedToken> second = cache.review("t");

    first.cancel(false);
    assertThat(call).isNotCancelled();
    second.cancel(false);
    assertThat(call).isCancelled();

    api.answer("t", accepted(null));
    assertThat(cache.review("t").join().authenticated()).as("a new attempt asks again").isTrue();
    assertThat(api.calls).containsExactly("t", "t");
  }

  private static ReviewedToken refused() {
    return new ReviewedToken(false, "token not valid", "", Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty());
  }

  /** A fake API that records which tokens it was asked about. */
  static final class Recording implements TokenReviewer {
    final List<String> calls = new CopyOnWriteArrayList<>();
    private final Map<String, CompletableFuture<ReviewedToken>> answers = new ConcurrentHashMap<>();

    void answer(String token, ReviewedToken review) {
      answers.put(token, CompletableFuture.completedFuture(review));
    }

    void fail(String token) {
      answers.put(token, CompletableFuture.failedFuture(new IllegalStateException("API unreachable")));
    }

    CompletableFuture<ReviewedToken> hold(String token) {
      CompletableFuture<ReviewedToken> answer = new CompletableFuture<>();
      answers.put(token, answer);
      return answer;
    }

    @Override
    public CompletableFuture<ReviewedToken> review(String token) {
      calls.add(token);
      return answers.get(token);
    }
  }

  static final class MutableClock extends Clock {
    private final AtomicReference<Instant> now;

    MutableClock(Instant start) {
      now = new AtomicReference<>(start);
    }

    void advance(Duration duration) {
      now.updateAndGet(instant -> instant.plus(duration));
    }

    @Override
    public Instant instant() {
      return now.get();
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
