package io.nodemesh.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.nodemesh.http.DebugAccess.Outcome;
import io.nodemesh.http.DebugAccess.Verdict;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The TokenReview and SubjectAccessReview requests as the API server receives them (fabric8's mock server). */
@EnableKubernetesMockClient
class KubernetesDebugAccessTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  KubernetesMockServer server;
  KubernetesClient client;

  @Test
  void theTokenIsReviewedThenItsUserWithGroupsIsCheckedForGetOnTheDebugUrl() throws Exception {
    List<JsonNode> tokenReviews = new CopyOnWriteArrayList<>();
    List<JsonNode> accessReviews = new CopyOnWriteArrayList<>();
    server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews").andReply(201, request -> {
      tokenReviews.add(body(request.getBody().readUtf8()));
      return new TokenReviewBuilder().withNewStatus().withAuthenticated(true)
          .withNewUser().withUsername("system:serviceaccount:ops:debugger").withUid("u-1")
              .withGroups("system:serviceaccounts", "system:serviceaccounts:ops")
              .withExtra(Map.of("authentication.kubernetes.io/pod-name", List.of("toolbox")))
          .endUser().endStatus().build();
    }).once();
    server.expect().post().withPath("/apis/authorization.k8s.io/v1/subjectaccessreviews").andReply(201, request -> {
      accessReviews.add(body(request.getBody().readUtf8()));
      return new SubjectAccessReviewBuilder().withNewStatus().withAllowed(false).withReason("no rule").endStatus().build();
    }).once();

    Verdict verdict = new KubernetesDebugAccess(KubernetesDebugAccess.Reviews.of(client), ForkJoinPool.commonPool(),
        Clock.systemUTC()).check("Bearer sa-token").get(10, TimeUnit.SECONDS);

    assertThat(verdict.outcome()).isEqualTo(Outcome.FORBIDDEN);
    assertThat(verdict.subject()).isEqualTo("system:serviceaccount:ops:debugger");
    assertThat(verdict.reason()).contains("no rule");
    assertThat(tokenReviews).singleElement().satisfies(review -> {
      assertThat(review.at("/spec/token").asText()).isEqualTo("sa-token");
      assertThat(review.at("/spec/audiences").isMissingNode() || review.at("/spec/audiences").isEmpty()).isTrue();
    });
    assertThat(accessReviews).singleElement().satisfies(review -> {
      assertThat(review.at("/kind").asText()).isEqualTo("SubjectAccessReview");
      assertThat(review.at("/spec/user").asText()).isEqualTo("system:serviceaccount:ops:debugger");
      assertThat(review.at("/spec/uid").asText()).isEqualTo("u-1");
      assertThat(review.at("/spec/groups").toString()).contains("system:serviceaccounts:ops");
      assertThat(review.at("/spec/extra/authentication.kubernetes.io~1pod-name/0").asText()).isEqualTo("toolbox");
      assertThat(review.at("/spec/nonResourceAttributes/path").asText()).isEqualTo(KubernetesDebugAccess.RBAC_PATH);
      assertThat(review.at("/spec/nonResourceAttributes/verb").asText()).isEqualTo("get");
      assertThat(review.at("/spec/resourceAttributes").isMissingNode()).isTrue();
    });
  }

  private static JsonNode body(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
