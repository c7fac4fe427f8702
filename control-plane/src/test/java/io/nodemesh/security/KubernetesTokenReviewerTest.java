package io.nodemesh.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
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

    assertThat(review).failsWithin(java.time.Duration.ofSeconds(10));
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
