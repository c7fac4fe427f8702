package io.nodemesh.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class RouteResolutionTest {

  private static final ServiceInfo WEB = new ServiceInfo("shop", "web", ImmutableList.of("10.96.0.1"),
      ImmutableList.of(new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty()),
          new ServicePort("tcp", 9000, "9000", Protocol.TCP, Optional.empty())), null);
  private static final ServiceInfo V2 = new ServiceInfo("shop", "web-v2", ImmutableList.of("10.96.0.2"),
      ImmutableList.of(new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty())), null);
  private static final Predicate<ServicePort> HTTP = port -> port.name().startsWith("http");

  @Test
  void entriesFollowTheGatewayApiPrecedenceAcrossRoutesAndRules() {
    MeshRoute older = route("a-older", 100,
        rule(match(prefix("/api"), 0, "", 0), backend("web")),
        rule(match(prefix("/api/v1"), 0, "", 0), backend("web")));
    MeshRoute newer = route("b-newer", 200,
        rule(match(exact("/api"), 0, "", 0), backend("web")),
        rule(match(prefix("/api"), 1, "", 0), backend("web")),
        rule(match(prefix("/api"), 0, "GET", 0), backend("web")),
        rule(match(prefix("/api"), 0, "", 1), backend("web")),
        rule(match(prefix("/api"), 0, "", 0), backend("web")),
        rule(match(new MeshRoute.PathMatch(MeshRoute.MatchType.REGEX, "/api/[0-9]+"), 0, "", 0), backend("web")));
    ClusterState state = state(newer, older);

    List<String> order = RouteResolution.entriesFor(state, WEB, WEB.ports().get(0)).stream()
        .map(entry -> entry.route().name() + "#" + entry.ruleIndex()).toList();

    assertThat(order).containsExactly(
        "b-newer#0", // exact path
        "b-newer#5", // regex
        "a-older#1", // longer prefix
        "b-newer#2", // method
        "b-newer#1", // header
        "b-newer#3", // query parameter
        "a-older#0", // same match: the older route first
        "b-newer#4");
  }

  @Test
  void aConsumerRouteInAnotherNamespaceIsNotAcceptedAndNotApplied() {
    MeshRoute consumer = new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "client-ns", "mine", 4, 0,
        ImmutableList.of(new MeshRoute.Parent("shop", "web", 80, "")),
        ImmutableList.of(rule(null, new MeshRoute.Backend("", "Service", "client-ns", "x", 80, 1))), null);
    ClusterState state = state(consumer);

    assertThat(RouteResolution.entriesFor(state, WEB, WEB.ports().get(0))).isEmpty();
    RouteResolution.ParentStatus status = RouteResolution.statuses(state, HTTP).get(consumer.key()).get(0);
    assertThat(status.condition("Accepted").orElseThrow())
        .extracting(RouteResolution.Condition::status, RouteResolution.Condition::reason)
        .containsExactly(false, "UnsupportedValue");
  }

  @Test
  void aRouteOnlyAttachesToTheHttpPortsItSelects() {
    MeshRoute onTcp = new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "shop", "tcp", 1, 0,
        ImmutableList.of(new MeshRoute.Parent("shop", "web", 0, "tcp")), ImmutableList.of(rule(null, backend("web"))),
        null);
    MeshRoute bySection = new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "shop", "section", 1, 0,
        ImmutableList.of(new MeshRoute.Parent("shop", "web", 0, "http")), ImmutableList.of(rule(null, backend("web"))),
        null);
    ClusterState state = state(onTcp, bySection);

    assertThat(RouteResolution.entriesFor(state, WEB, WEB.ports().get(0))).extracting(e -> e.route().name())
        .containsExactly("section");
    assertThat(RouteResolution.statuses(state, HTTP).get(onTcp.key()).get(0).condition("Accepted").orElseThrow().reason())
        .isEqualTo("UnsupportedValue");
    assertThat(RouteResolution.statuses(state, HTTP).get(bySection.key()).get(0).condition("Accepted").orElseThrow()
        .status()).isTrue();
  }

  @Test
  void droppedRulesMakeARoutePartiallyInvalidAndAllDroppedMakeItNotAccepted() {
    MeshRoute.Rule cors = new MeshRoute.Rule(ImmutableList.of(), ImmutableList.of(new MeshRoute.Unsupported("CORS")),
        ImmutableList.of(backend("web")), null, null, null);
    MeshRoute partly = route("partly", 0, cors, rule(null, backend("web-v2")));
    MeshRoute none = route("none", 0, cors);
    ClusterState state = state(partly, none);

    RouteResolution.ParentStatus partlyStatus = RouteResolution.statuses(state, HTTP).get(partly.key()).get(0);
    assertThat(partlyStatus.condition("Accepted").orElseThrow().status()).isTrue();
    assertThat(partlyStatus.condition("PartiallyInvalid").orElseThrow().message()).contains("rule 0: filter CORS");
    RouteResolution.ParentStatus noneStatus = RouteResolution.statuses(state, HTTP).get(none.key()).get(0);
    assertThat(noneStatus.condition("Accepted").orElseThrow().status()).isFalse();
    assertThat(RouteResolution.entriesFor(state, WEB, WEB.ports().get(0))).extracting(e -> e.route().name())
        .containsExactly("partly");
  }

  @Test
  void backendsThatDoNotResolveKeepTheirShareAndAreReported() {
    MeshRoute route = route("r", 0, rule(null, backend("web"),
        new MeshRoute.Backend("", "Service", "other", "web", 80, 1),
        new MeshRoute.Backend("", "Service", "shop", "missing", 80, 1),
        new MeshRoute.Backend("", "Pod", "shop", "web", 80, 1)));
    ClusterState state = state(route);

    assertThat(RouteResolution.entriesFor(state, WEB, WEB.ports().get(0)).get(0).backends())
        .extracting(RouteResolution.Target::resolved).containsExactly(true, false, false, false);
    RouteResolution.Condition resolved =
        RouteResolution.statuses(state, HTTP).get(route.key()).get(0).condition("ResolvedRefs").orElseThrow();
    assertThat(resolved.status()).isFalse();
    assertThat(resolved.reason()).isEqualTo("RefNotPermitted");
  }

  @Test
  void hostileRoutesAreKeptWithoutRulesAndTheirReason() {
    ImmutableList.Builder<MeshRoute.Match> matches = ImmutableList.builder();
    for (int i = 0; i < 65; i++) {
      matches.add(match(prefix("/" + i), 0, "", 0));
    }
    MeshRoute huge = route("huge", 0, new MeshRoute.Rule(matches.build(), null, ImmutableList.of(backend("web")),
        null, null, null));
    MeshRoute badRegex = route("regex", 0, rule(match(new MeshRoute.PathMatch(MeshRoute.MatchType.REGEX, "(?<x>a"),
        0, "", 0), backend("web")));
    ClusterState state = state(huge, badRegex);

    assertThat(state.routes().get(huge.key()).rules()).isEmpty();
    assertThat(state.routes().get(huge.key()).rejected()).isEqualTo("rule 0: more than 64 matches (65)");
    assertThat(state.routes().get(badRegex.key()).rejected()).contains("is not RE2 syntax");
    assertThat(state.problems()).extracting(Problem::name).contains("huge", "regex");
    assertThat(RouteResolution.entriesFor(state, WEB, WEB.ports().get(0))).isEmpty();
  }

  @Test
  void theStateIndexesRoutesByParentAndByBackend() {
    MeshRoute route = route("r", 0, rule(null, backend("web-v2")));
    ClusterState state = state(route);

    assertThat(state.routesAttachedTo(WEB.key())).containsExactly(state.routes().get(route.key()));
    assertThat(state.routesAttachedTo(V2.key())).isEmpty();
    assertThat(state.routesReferencing(V2.key())).containsExactly(state.routes().get(route.key()));
    assertThat(state.toBuilder().removeRoute(route.key()).build().routesReferencing(V2.key())).isEmpty();
  }

  private static ClusterState state(MeshRoute... routes) {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS).putService(WEB).putService(V2);
    for (MeshRoute route : routes) {
      builder.putRoute(route);
    }
    return builder.build();
  }

  private static MeshRoute route(String name, long created, MeshRoute.Rule... rules) {
    return new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "shop", name, 1, created,
        ImmutableList.of(new MeshRoute.Parent("shop", "web", 80, "")), ImmutableList.copyOf(rules), null);
  }

  private static MeshRoute.Rule rule(MeshRoute.Match match, MeshRoute.Backend... backends) {
    return new MeshRoute.Rule(match == null ? ImmutableList.of() : ImmutableList.of(match), null,
        ImmutableList.copyOf(backends), null, null, null);
  }

  private static MeshRoute.Match match(MeshRoute.PathMatch path, int headers, String method, int queries) {
    ImmutableList.Builder<MeshRoute.ValueMatch> headerMatches = ImmutableList.builder();
    for (int i = 0; i < headers; i++) {
      headerMatches.add(new MeshRoute.ValueMatch("x-h" + i, MeshRoute.MatchType.EXACT, "v"));
    }
    ImmutableList.Builder<MeshRoute.ValueMatch> queryMatches = ImmutableList.builder();
    for (int i = 0; i < queries; i++) {
      queryMatches.add(new MeshRoute.ValueMatch("q" + i, MeshRoute.MatchType.EXACT, "v"));
    }
    return new MeshRoute.Match(path, headerMatches.build(), method, queryMatches.build());
  }

  private static MeshRoute.PathMatch prefix(String value) {
    return new MeshRoute.PathMatch(MeshRoute.MatchType.PREFIX, value);
  }

  private static MeshRoute.PathMatch exact(String value) {
    return new MeshRoute.PathMatch(MeshRoute.MatchType.EXACT, value);
  }

  private static MeshRoute.Backend backend(String service) {
    return new MeshRoute.Backend("", "Service", "shop", service, 80, 1);
  }
}
