package io.nodemesh.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatusBuilder;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewStatus;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewStatusBuilder;
import io.nodemesh.http.AdminServer.Response;
import io.nodemesh.http.DebugAccess.Outcome;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, finding 4: the debug endpoints answer only to loopback clients unless a bearer token is required, and
 * then 401 without or with a bad token, 403 when RBAC says no, 503 when the API cannot be asked.
 */
class DebugAuthTest {

  private static final String ADMIN_TOKEN = "s3cr3t-debug-token-0123456789";
  private static final AdminServer.Limits LIMITS = new AdminServer.Limits(Duration.ofSeconds(10), 64, 64);

  @TempDir
  Path dir;
  private final HttpClient http = HttpClient.newHttpClient();
  private AdminServer server;

  @AfterEach
  void tearDown() {
    if (server != null) {
      server.close();
    }
  }

  private AdminServer serve(DebugAccess access) throws IOException {
    server = new AdminServer("debug", "127.0.0.1", 0, LIMITS, access);
    server.registerIndex();
    server.register("/debug/pods", "pods and their namespace paths",
        (p, q) -> Response.json(Map.of("netns", "/var/run/nodemesh/netns/uid-1")));
    server.start();
    return server;
  }

  private HttpResponse<String> get(String path, String authorization) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(10));
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  // ---- the listener's flags

  @Test
  void aDebugAddressOffLoopbackWithoutAuthenticationIsRefusedNamingTheFlags() {
    AdminListeners.Config exposed = new AdminListeners.Config("0.0.0.0", 15014, "0.0.0.0", 15015, DebugAuthMode.NONE,
        "", LIMITS);

    assertThatThrownBy(exposed::check).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--debug-address=0.0.0.0").hasMessageContaining("--debug-auth=token-review")
        .hasMessageContaining("--debug-token-file");
    assertThatThrownBy(() -> AdminListeners.create(exposed, () -> null)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void loopbackNeedsNoAuthenticationAndEveryOtherCombinationIsChecked() {
    for (String loopback : List.of("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.53")) {
      new AdminListeners.Config("0.0.0.0", 1, loopback, 2, DebugAuthMode.NONE, "", LIMITS).check();
    }
    new AdminListeners.Config("0.0.0.0", 1, "0.0.0.0", 2, DebugAuthMode.TOKEN_REVIEW, "", LIMITS).check();
    assertThatThrownBy(() -> new AdminListeners.Config("0.0.0.0", 1, "::", 2, DebugAuthMode.NONE, "", LIMITS).check())
        .hasMessageContaining("not a loopback address");
    assertThatThrownBy(() -> new AdminListeners.Config("0.0.0.0", 1, "0.0.0.0", 2, DebugAuthMode.TOKEN_FILE, "", LIMITS)
        .check()).hasMessageContaining("--debug-auth=token-file needs --debug-token-file");
    assertThatThrownBy(() -> new AdminListeners.Config("0.0.0.0", 1, "127.0.0.1", 2, DebugAuthMode.NONE, "/x", LIMITS)
        .check()).hasMessageContaining("only read with --debug-auth=token-file");
    assertThatThrownBy(() -> new AdminListeners.Config("0.0.0.0", 7, "127.0.0.1", 7, DebugAuthMode.NONE, "", LIMITS)
        .check()).hasMessageContaining("must differ");
  }

  // ---- token file

  @Test
  void withATokenFileOnlyAListedBearerTokenGetsThroughAndRefusalsAreCounted() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "# operators\n\n" + ADMIN_TOKEN + "\n");
    serve(new TokenFileAccess(tokens));

    HttpResponse<String> none = get("/debug/pods", null);
    HttpResponse<String> wrong = get("/debug/pods", "Bearer " + ADMIN_TOKEN + "x");
    HttpResponse<String> basic = get("/debug/pods", "Basic " + ADMIN_TOKEN);
    HttpResponse<String> right = get("/debug/pods", "Bearer " + ADMIN_TOKEN);

    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    assertThat(none.body()).doesNotContain("netns");
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain(ADMIN_TOKEN);
    assertThat(basic.statusCode()).isEqualTo(401);
    assertThat(right.statusCode()).isEqualTo(200);
    assertThat(right.body()).contains("/var/run/nodemesh/netns/uid-1");
    assertThat(server.refusals().get("unauthenticated")).isEqualTo(3);
  }

  @Test
  void aRotatedTokenFileReplacesTheTokensAndAnEmptiedOneRevokesThemAll() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), ADMIN_TOKEN + "\n");
    TokenFileAccess access = new TokenFileAccess(tokens);
    String next = "rotated-token-abcdefghijklmnop";

    Files.writeString(tokens, next + "\n");
    Files.setLastModifiedTime(tokens, FileTime.from(Instant.now().plusSeconds(5)));

    assertThat(access.check("Bearer " + ADMIN_TOKEN).get().outcome()).isEqualTo(Outcome.UNAUTHENTICATED);
    assertThat(access.check("Bearer " + next).get().outcome()).isEqualTo(Outcome.ALLOWED);

    Files.writeString(tokens, "");
    Files.setLastModifiedTime(tokens, FileTime.from(Instant.now().plusSeconds(10)));

    assertThat(access.check("Bearer " + next).get().outcome()).isEqualTo(Outcome.UNAUTHENTICATED);
  }

  @Test
  void aTokenFileThatIsMissingEmptyOrHoldsAGuessableTokenStopsTheStart() throws IOException {
    Path empty = Files.writeString(dir.resolve("empty"), "# nothing\n");
    Path weak = Files.writeString(dir.resolve("weak"), "hunter2\n");

    assertThatThrownBy(() -> new TokenFileAccess(dir.resolve("missing"))).hasMessageContaining("cannot read");
    assertThatThrownBy(() -> new TokenFileAccess(empty)).hasMessageContaining("lists no token");
    assertThatThrownBy(() -> new TokenFileAccess(weak)).hasMessageContaining("line 1")
        .hasMessageContaining("at least " + TokenFileAccess.MIN_TOKEN_CHARS);
  }

  @Test
  void onlyAWellFormedBearerHeaderYieldsAToken() {
    assertThat(DebugAccess.bearerToken("Bearer abc")).contains("abc");
    assertThat(DebugAccess.bearerToken("bearer   abc ")).contains("abc");
    assertThat(DebugAccess.bearerToken(null)).isEmpty();
    assertThat(DebugAccess.bearerToken("Bearer")).isEmpty();
    assertThat(DebugAccess.bearerToken("Bearer ")).isEmpty();
    assertThat(DebugAccess.bearerToken("Bearer a b")).isEmpty();
    assertThat(DebugAccess.bearerToken("Bearer a\u0000b")).isEmpty();
    assertThat(DebugAccess.bearerToken("Token abc")).isEmpty();
  }

  // ---- TokenReview + SubjectAccessReview

  /** Answers the two reviews from maps and records every call. */
  private static final class FakeReviews implements KubernetesDebugAccess.Reviews {
    final Map<String, String> users; // token -> user name
    final List<String> allowedUsers;
    final List<String> calls = new CopyOnWriteArrayList<>();
    volatile RuntimeException apiDown;

    FakeReviews(Map<String, String> users, List<String> allowedUsers) {
      this.users = users;
      this.allowedUsers = allowedUsers;
    }

    @Override
    public TokenReviewStatus tokenReview(String token) {
      calls.add("TokenReview");
      if (apiDown != null) {
        throw apiDown;
      }
      String user = users.get(token);
      return user == null
          ? new TokenReviewStatusBuilder().withAuthenticated(false).withError("invalid bearer token").build()
          : new TokenReviewStatusBuilder().withAuthenticated(true)
              .withNewUser().withUsername(user).withGroups("system:authenticated").endUser().build();
    }

    @Override
    public SubjectAccessReviewStatus accessReview(UserInfo user, String path, String verb) {
      calls.add("SubjectAccessReview " + user.getUsername() + " " + user.getGroups() + " " + verb + " " + path);
      return new SubjectAccessReviewStatusBuilder().withAllowed(allowedUsers.contains(user.getUsername()))
          .withReason(allowedUsers.contains(user.getUsername()) ? "RBAC: allowed" : "").build();
    }
  }

  private static final class MutableClock extends Clock {
    final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));

    @Override
    public Instant instant() {
      return now.get();
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  @Test
  void aTokenReviewedUserGetsThroughOnlyWhenRbacAllowsGetOnTheDebugUrl() throws Exception {
    FakeReviews reviews = new FakeReviews(Map.of("admin-token", "alice", "viewer-token", "bob"), List.of("alice"));
    serve(new KubernetesDebugAccess(reviews, ForkJoinPool.commonPool(), Clock.systemUTC()));

    HttpResponse<String> none = get("/debug/pods", null);
    HttpResponse<String> unknown = get("/debug/pods", "Bearer forged-token");
    HttpResponse<String> forbidden = get("/debug/pods", "Bearer viewer-token");
    HttpResponse<String> allowed = get("/debug/pods", "Bearer admin-token");

    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(unknown.statusCode()).isEqualTo(401);
    assertThat(unknown.body()).contains("invalid bearer token");
    assertThat(forbidden.statusCode()).isEqualTo(403);
    assertThat(forbidden.body()).contains(KubernetesDebugAccess.RBAC_PATH).doesNotContain("netns");
    assertThat(allowed.statusCode()).isEqualTo(200);
    assertThat(reviews.calls).contains(
        "SubjectAccessReview alice [system:authenticated] get " + KubernetesDebugAccess.RBAC_PATH);
    assertThat(server.refusals()).containsEntry("unauthenticated", 2L).containsEntry("forbidden", 1L);
  }

  @Test
  void verdictsAreCachedBrieflyAndAnUnreachableApiIsA503ThatIsNotCached() throws Exception {
    FakeReviews reviews = new FakeReviews(Map.of("admin-token", "alice"), List.of("alice"));
    MutableClock clock = new MutableClock();
    KubernetesDebugAccess access = new KubernetesDebugAccess(reviews, ForkJoinPool.commonPool(), clock);

    assertThat(access.check("Bearer admin-token").get(5, TimeUnit.SECONDS).isAllowed()).isTrue();
    assertThat(access.check("Bearer admin-token").get(5, TimeUnit.SECONDS).isAllowed()).isTrue();
    assertThat(reviews.calls).hasSize(2); // one TokenReview and one SubjectAccessReview for both requests

    clock.now.set(clock.now.get().plus(KubernetesDebugAccess.ALLOWED_TTL).plusSeconds(1));
    reviews.apiDown = new IllegalStateException("connection refused");

    assertThat(access.check("Bearer admin-token").get(5, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.UNAVAILABLE);
    assertThat(access.check("Bearer admin-token").get(5, TimeUnit.SECONDS).outcome()).isEqualTo(Outcome.UNAVAILABLE);
    assertThat(reviews.calls).hasSize(4);

    reviews.apiDown = null;

    assertThat(access.check("Bearer admin-token").get(5, TimeUnit.SECONDS).isAllowed()).isTrue();
    assertThat(access.cachedVerdicts()).isEqualTo(1);
  }

  @Test
  void anUnreachableApiAnswers503OverHttp() throws Exception {
    FakeReviews reviews = new FakeReviews(Map.of(), List.of());
    reviews.apiDown = new IllegalStateException("connection refused");
    serve(new KubernetesDebugAccess(reviews, ForkJoinPool.commonPool(), Clock.systemUTC()));

    HttpResponse<String> response = get("/debug/pods", "Bearer some-token");

    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(response.body()).contains("could not review the token");
    assertThat(server.refusals().get("auth-unavailable")).isEqualTo(1);
  }
}
