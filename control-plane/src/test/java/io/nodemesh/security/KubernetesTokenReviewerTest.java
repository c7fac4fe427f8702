package io.nodemesh.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** TokenReview (authentication.k8s.io/v1) against fabric8's mock API server. */
@EnableKubernetesMockClient
class KubernetesTokenReviewerTest {

  private static final String PATH = "/apis/authentication.k8s.io/v1/tokenreviews";
  private static final ObjectMapper JSON = new ObjectMapper();

  KubernetesMockServer server;
  KubernetesClient client;

  static String jwt(long exp) {
    Base64.Encoder base64 = Base64.getUrlEncoder().withoutPadding();
    return base64.encodeToString("{\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8)) + "."
        + base64.encodeToString(("{\"exp\":" + exp + ",\"sub\":\"x\"}").getBytes(StandardCharsets.UTF_8))
        + ".c2lnbmF0dXJl";
  }

  @Test
  void aBoundTokenIsReviewedForOurAudienceAndItsPodAndNodeClaimsAreRead() throws Exception {
    List<JsonNode> requests = new CopyOnWriteArrayList<>();
    server.expect().post().withPath(PATH).andReply(201, request -> {
      try {
        requests.add(JSON.readTree(request.getBody().readUtf8()));
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
      return new TokenReviewBuilder()
          .withNewStatus()
              .withAuthenticated(true)
              .withAudiences("nodemesh")
              .withNewUser()
                  .withUsername("system:serviceaccount:nodemesh-system:nodemesh-envoy")
                  .withExtra(Map.of(
                      "authentication.kubernetes.io/pod-name", List.of("nodemesh-envoy-x7k2p"),
                      "authentication.kubernetes.io/pod-uid", List.of("uid-1"),
                      "authentication.kubernetes.io/node-name", List.of("worker-3")))
              .endUser()
          .endStatus()
          .build();
    }).once();
    String token = jwt(1_900_000_000L);

    ReviewedToken review = new KubernetesTokenReviewer(client, "nodemesh", ForkJoinPool.commonPool())
        .review(token).get(10, TimeUnit.SECONDS);

    assertThat(review.authenticated()).isTrue();
    assertThat(review.namespace()).contains("nodemesh-system");
    assertThat(review.podName()).contains("nodemesh-envoy-x7k2p");
    assertThat(review.podUid()).contains("uid-1");
    assertThat(review.nodeName()).contains("worker-3");
    assertThat(review.expiry()).contains(Instant.ofEpochSecond(1_900_000_000L));
    assertThat(requests).singleElement().satisfies(request -> {
      assertThat(request.at("/kind").asText()).isEqualTo("TokenReview");
      assertThat(request.at("/spec/token").asText()).isEqualTo(token);
      assertThat(request.at("/spec/audiences/0").asText()).isEqualTo("nodemesh");
    });
  }

  @Test
  void aTokenTheApiServerRefusesCarriesItsError() throws Exception {
    server.expect().post().withPath(PATH).andReturn(201, new TokenReviewBuilder()
        .withNewStatus().withAuthenticated(false).withError("token audience does not match").endStatus()
        .build()).once();

    ReviewedToken review = new KubernetesTokenReviewer(client, "nodemesh", ForkJoinPool.commonPool())
        .review("not-a-jwt").get(10, TimeUnit.SECONDS);

    assertThat(review.authenticated()).isFalse();
    assertThat(review.error()).isEqualTo("token audience does not match");
  }

  @Test
  void aReviewThatTheApiServerFailsCompletesExceptionally() {
    server.expect().post().withPath(PATH).andReturn(403, "forbidden: cannot create tokenreviews").once();

    var review = new KubernetesTokenReviewer(client, "nodemesh", ForkJoinPool.commonPool()).review("t");

    assertThat(review).failsWithin(Duration.ofSeconds(10));
  }

  @Test
  void aFullReviewQueueRefusesAtOnceAndAReviewWhoseStreamLeftNeverReachesTheApiServer() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    server.expect().post().withPath(PATH).andReply(201, request -> {
      calls.incrementAndGet();
      return new TokenReviewBuilder().withNewStatus().withAuthenticated(false).endStatus().build();
    }).always();
    CountDownLatch busy = new CountDownLatch(1);
    ThreadPoolExecutor reviews = new ThreadPoolExecutor(1, 1, 0,
        TimeUnit.SECONDS, new ArrayBlockingQueue<>(1));
    try {
      reviews.execute(() -> {
        try {
          busy.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      CachingTokenReviewer cache = new CachingTokenReviewer(new KubernetesTokenReviewer(client, "nodemesh", reviews),
          Clock.systemUTC(), 100, Duration.ofMinutes(10), Duration.ofSeconds(10));

      var queued = cache.review("queued", "10.0.0.66");
      var overflow = cache.review("overflow", "10.0.0.66");
      assertThat(overflow).isCompletedExceptionally();
      queued.cancel(false);
      busy.countDown();
      reviews.shutdown();
      assertThat(reviews.awaitTermination(10, TimeUnit.SECONDS)).isTrue();

      assertThat(calls).as("API calls").hasValue(0);
    } finally {
      busy.countDown();
      reviews.shutdownNow();
    }
  }

  @Test
  void theExpiryIsReadFromTheJwtWithoutTrustingItForAnythingElse() {
    assertThat(KubernetesTokenReviewer.expiryOf(jwt(42))).contains(Instant.ofEpochSecond(42));
    assertThat(KubernetesTokenReviewer.expiryOf("opaque-token")).isEmpty();
    assertThat(KubernetesTokenReviewer.expiryOf("a.!!!.c")).isEmpty();
    assertThat(KubernetesTokenReviewer.expiryOf("a." + Base64.getUrlEncoder().encodeToString("[]".getBytes()) + ".c"))
        .isEmpty();
    assertThat(KubernetesTokenReviewer.reviewed(null, Optional.empty()).authenticated()).isFalse();
  }
}
