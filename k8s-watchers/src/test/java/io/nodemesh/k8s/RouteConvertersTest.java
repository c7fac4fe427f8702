package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteRuleBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatchBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilterBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatchBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRuleBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReferenceBuilder;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.MeshRoute.MatchType;
import io.nodemesh.model.MeshRoute.PathMatch;
import io.nodemesh.model.MeshRoute.ValueMatch;
import io.nodemesh.model.RouteValidation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouteConvertersTest {

  private static final ParentReference WEB_PARENT = new ParentReferenceBuilder()
      .withGroup("").withKind("Service").withName("web").withPort(80).build();

  // ---- identity and parents ----

  @Test
  void aRouteKeepsItsIdentityGenerationAndCreationTime() {
    HTTPRoute route = new HTTPRouteBuilder(http(rule().build()))
        .editMetadata().withGeneration(7L).withCreationTimestamp("2024-05-01T10:00:00Z").endMetadata().build();

    MeshRoute converted = RouteConverters.httpRoute(route).value();

    assertThat(converted.key()).isEqualTo(RouteConverters.httpRouteKey(route));
    assertThat(converted.kind()).isEqualTo(MeshRoute.Kind.HTTP_ROUTE);
    assertThat(converted.namespace()).isEqualTo("shop");
    assertThat(converted.name()).isEqualTo("r");
    assertThat(converted.generation()).isEqualTo(7);
    assertThat(converted.creationSeconds()).isEqualTo(1714557600L);
    assertThat(converted.rejected()).isNull();
  }

  @Test
  void aMissingOrUnparsableCreationTimeIsZero() {
    HTTPRoute odd = new HTTPRouteBuilder(http(rule().build()))
        .editMetadata().withCreationTimestamp("yesterday").endMetadata().build();
    assertThat(RouteConverters.httpRoute(odd).value().creationSeconds()).isZero();
    assertThat(RouteConverters.httpRoute(http(rule().build())).value().creationSeconds()).isZero();
    assertThat(RouteConverters.httpRoute(http(rule().build())).value().generation()).isZero();
  }

  @Test
  void onlyParentRefsNamingACoreServiceAreKeptWithTheRoutesNamespaceAsDefault() {
    HTTPRoute route = new HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("r").endMetadata()
        .withNewSpec()
        .addToParentRefs(new ParentReferenceBuilder().withGroup("").withKind("Service").withName("web").build())
        .addToParentRefs(new ParentReferenceBuilder().withGroup("core").withKind("Service").withName("api")
            .withNamespace("other").withPort(8080).withSectionName("http").build())
        .addToParentRefs(new ParentReferenceBuilder().withGroup("gateway.networking.k8s.io").withKind("Gateway")
            .withName("edge").build())
        .addToParentRefs(new ParentReferenceBuilder().withKind("Service").withName("no-group").build())
        .addToParentRefs(new ParentReferenceBuilder().withGroup("").withKind("Service").build())
        .endSpec().build();
    route.getSpec().getParentRefs().add(null);

    Converted<MeshRoute> converted = RouteConverters.httpRoute(route);

    assertThat(converted.value().parents()).containsExactly(
        new MeshRoute.Parent("shop", "web", 0, ""),
        new MeshRoute.Parent("other", "api", 8080, "http"));
    assertThat(converted.problems()).singleElement().asString().contains("no name");
  }

  @Test
  void aRouteAttachedOnlyToGatewaysHasNoParents() {
    HTTPRoute route = new HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("r").endMetadata()
        .withNewSpec().addNewParentRef().withName("edge").endParentRef().endSpec().build();
    assertThat(RouteConverters.httpRoute(route).value().parents()).isEmpty();
  }

  // ---- HTTP matches ----

  @Test
  void httpPathTypesMapAndAnAbsentPathIsPrefixSlash() {
    HTTPRoute route = http(rule().withMatches(
        match().withNewPath().withType("Exact").withValue("/a").endPath().build(),
        match().withNewPath().withType("PathPrefix").withValue("/b").endPath().build(),
        match().withNewPath().withType("RegularExpression").withValue("/c/[0-9]+").endPath().build(),
        match().withNewPath().withValue("/d").endPath().build(),
        match().withMethod("GET").build()).build());

    List<MeshRoute.Match> matches = RouteConverters.httpRoute(route).value().rules().get(0).matches();

    assertThat(matches).extracting(MeshRoute.Match::path).containsExactly(
        new PathMatch(MatchType.EXACT, "/a"), new PathMatch(MatchType.PREFIX, "/b"),
        new PathMatch(MatchType.REGEX, "/c/[0-9]+"), new PathMatch(MatchType.PREFIX, "/d"),
        new PathMatch(MatchType.PREFIX, "/"));
    assertThat(matches.get(4).method()).isEqualTo("GET");
    assertThat(matches.get(0).method()).isEmpty();
  }

  @Test
  void headerAndQueryMatchesDefaultToExact() {
    HTTPRoute route = http(rule().withMatches(match()
        .withHeaders(new HTTPHeaderMatchBuilder().withName("x-env").withValue("canary").build(),
            new HTTPHeaderMatchBuilder().withName("x-id").withType("RegularExpression").withValue("[a-f]+").build())
        .addNewQueryParam().withName("v").withValue("2").endQueryParam()
        .addNewQueryParam().withName("q").withType("RegularExpression").withValue(".*").endQueryParam()
        .build()).build());

    MeshRoute.Match match = RouteConverters.httpRoute(route).value().rules().get(0).matches().get(0);

    assertThat(match.headers()).containsExactly(new ValueMatch("x-env", MatchType.EXACT, "canary"),
        new ValueMatch("x-id", MatchType.REGEX, "[a-f]+"));
    assertThat(match.queryParams()).containsExactly(new ValueMatch("v", MatchType.EXACT, "2"),
        new ValueMatch("q", MatchType.REGEX, ".*"));
  }

  @Test
  void anUnknownMatchTypeRejectsTheRoute() {
    HTTPRoute badPath = http(rule().withMatches(match().withNewPath().withType("Glob").withValue("/*").endPath()
        .build()).build());
    HTTPRoute badHeader = http(rule().withMatches(match().withHeaders(new HTTPHeaderMatchBuilder()
        .withName("x").withType("Prefix").withValue("a").build()).build()).build());

    MeshRoute path = RouteConverters.httpRoute(badPath).value();
    assertThat(path.rejected()).contains("path match type 'Glob'");
    assertThat(path.rules()).isEmpty();
    assertThat(path.parents()).as("still ours, so its status can say why").hasSize(1);
    assertThat(RouteConverters.httpRoute(badHeader).value().rejected()).contains("header match type 'Prefix'");
  }

  // ---- gRPC matches ----

  @Test
  void grpcMethodMatchesBecomePathMatches() {
    GRPCRoute route = grpc(grpcRule().addNewMatch().withNewMethod().withService("pkg.Echo").withMethod("Say")
            .endMethod().endMatch()
        .addNewMatch().withNewMethod().withService("pkg.Echo").endMethod().endMatch()
        .addNewMatch().withNewMethod().withMethod("Say.Hi").endMethod().endMatch()
        .addNewMatch().withNewMethod().withType("RegularExpression").withService("pkg\\..*").endMethod().endMatch()
        .addNewMatch().withNewMethod().withType("RegularExpression").withMethod("Get|List").endMethod().endMatch()
        .addNewMatch().addNewHeader().withName("x-tenant").withValue("a").endHeader().endMatch()
        .build());

    List<MeshRoute.Match> matches = RouteConverters.grpcRoute(route).value().rules().get(0).matches();

    assertThat(matches).extracting(MeshRoute.Match::path).containsExactly(
        new PathMatch(MatchType.EXACT, "/pkg.Echo/Say"),
        new PathMatch(MatchType.PREFIX, "/pkg.Echo"),
        new PathMatch(MatchType.REGEX, "/[^/]+/Say\\.Hi"),
        new PathMatch(MatchType.REGEX, "/(pkg\\..*)/([^/]+)"),
        new PathMatch(MatchType.REGEX, "/([^/]+)/(Get|List)"),
        null);
    assertThat(matches.get(5).headers()).containsExactly(new ValueMatch("x-tenant", MatchType.EXACT, "a"));
    assertThat(com.google.re2j.Pattern.compile(matches.get(2).path().value()).matches("/pkg.Echo/Say.Hi")).isTrue();
    assertThat(com.google.re2j.Pattern.compile(matches.get(2).path().value()).matches("/pkg.Echo/SayxHi")).isFalse();
    MeshRoute converted = RouteConverters.grpcRoute(route).value();
    assertThat(converted.kind()).isEqualTo(MeshRoute.Kind.GRPC_ROUTE);
    assertThat(RouteValidation.validate(converted).rejected()).isNull();
  }

  @Test
  void grpcFiltersAndBackendsConvertLikeHttpOnes() {
    GRPCRoute route = grpc(grpcRule()
        .addNewFilter().withType("RequestHeaderModifier").withNewRequestHeaderModifier()
            .addNewSet().withName("x-a").withValue("1").endSet().endRequestHeaderModifier().endFilter()
        .addNewFilter().withType("ExtensionRef").endFilter()
        .addNewBackendRef().withName("echo").withPort(9090).endBackendRef()
        .build());

    MeshRoute.Rule rule = RouteConverters.grpcRoute(route).value().rules().get(0);

    assertThat(rule.filters()).containsExactly(
        new MeshRoute.HeaderModifier(false, com.google.common.collect.ImmutableList.of(
            new MeshRoute.Header("x-a", "1")), null, null),
        new MeshRoute.Unsupported("ExtensionRef"));
    assertThat(rule.backends()).containsExactly(new MeshRoute.Backend("", "Service", "shop", "echo", 9090, 1));
    assertThat(rule.requestTimeout()).isNull();
    assertThat(rule.retry()).isNull();
  }

  // ---- filters ----

  @Test
  void headerModifiersRedirectRewriteAndMirrorConvert() {
    HTTPRoute route = http(rule().withFilters(
        filter("RequestHeaderModifier").withNewRequestHeaderModifier()
            .addNewSet().withName("x-set").withValue("1").endSet()
            .addNewAdd().withName("x-add").withValue("2").endAdd()
            .withRemove("x-gone").endRequestHeaderModifier().build(),
        filter("ResponseHeaderModifier").withNewResponseHeaderModifier().withRemove("server")
            .endResponseHeaderModifier().build(),
        filter("RequestRedirect").withNewRequestRedirect().withScheme("https").withHostname("example.com")
            .withNewPath().withType("ReplacePrefixMatch").withReplacePrefixMatch("/v2").endPath()
            .endRequestRedirect().build(),
        filter("RequestRedirect").withNewRequestRedirect().withStatusCode(301).withPort(8443)
            .endRequestRedirect().build(),
        filter("URLRewrite").withNewUrlRewrite().withHostname("api.internal")
            .withNewPath().withType("ReplaceFullPath").withReplaceFullPath("/x").endPath().endUrlRewrite().build(),
        filter("RequestMirror").withNewRequestMirror().withNewBackendRef().withName("shadow").withPort(80)
            .endBackendRef().withPercent(25).endRequestMirror().build(),
        filter("RequestMirror").withNewRequestMirror().withNewBackendRef().withName("shadow").withPort(80)
            .endBackendRef().withNewFraction().withNumerator(1).withDenominator(3).endFraction()
            .endRequestMirror().build(),
        filter("RequestMirror").withNewRequestMirror().withNewBackendRef().withName("shadow").withPort(80)
            .endBackendRef().endRequestMirror().build()).build());

    List<MeshRoute.Filter> filters = RouteConverters.httpRoute(route).value().rules().get(0).filters();

    MeshRoute.Backend shadow = new MeshRoute.Backend("", "Service", "shop", "shadow", 80, 1);
    assertThat(filters).containsExactly(
        new MeshRoute.HeaderModifier(false, com.google.common.collect.ImmutableList.of(new MeshRoute.Header("x-set", "1")),
            com.google.common.collect.ImmutableList.of(new MeshRoute.Header("x-add", "2")),
            com.google.common.collect.ImmutableList.of("x-gone")),
        new MeshRoute.HeaderModifier(true, null, null, com.google.common.collect.ImmutableList.of("server")),
        new MeshRoute.Redirect("https", "example.com", 0, new MeshRoute.PathModifier(null, "/v2"), 302),
        new MeshRoute.Redirect(null, null, 8443, null, 301),
        new MeshRoute.UrlRewrite("api.internal", new MeshRoute.PathModifier("/x", null)),
        new MeshRoute.Mirror(shadow, 25, 100),
        new MeshRoute.Mirror(shadow, 1, 3),
        new MeshRoute.Mirror(shadow, 100, 100));
  }

  @Test
  void filtersWeDoNotServeBecomeUnsupported() {
    HTTPRoute route = http(rule().withFilters(filter("CORS").build(), filter("ExtensionRef").build(),
            filter("ExternalAuth").build(), filter("SomethingNew").build(), filter(null).build())
        .addNewBackendRef().withName("web").withPort(80)
            .addNewFilter().withType("RequestHeaderModifier").endFilter().endBackendRef()
        .withNewSessionPersistence().withSessionName("s").endSessionPersistence()
        .build());

    List<MeshRoute.Filter> filters = RouteConverters.httpRoute(route).value().rules().get(0).filters();

    assertThat(filters).containsExactly(new MeshRoute.Unsupported("CORS"), new MeshRoute.Unsupported("ExtensionRef"),
        new MeshRoute.Unsupported("ExternalAuth"), new MeshRoute.Unsupported("SomethingNew"),
        new MeshRoute.Unsupported("(no type)"), new MeshRoute.Unsupported("backendRef filters"),
        new MeshRoute.Unsupported("sessionPersistence"));
  }

  @Test
  void aFilterTypeWithoutItsConfigurationRejectsTheRoute() {
    HTTPRoute route = http(rule().withFilters(filter("RequestRedirect").build()).build());
    assertThat(RouteConverters.httpRoute(route).value().rejected()).contains("RequestRedirect has no configuration");
    HTTPRoute mirror = http(rule().withFilters(filter("RequestMirror").withNewRequestMirror().endRequestMirror()
        .build()).build());
    assertThat(RouteConverters.httpRoute(mirror).value().rejected()).contains("no backendRef");
  }

  // ---- backends, timeouts, retry ----

  @Test
  void backendRefsTakeTheirDefaults() {
    HTTPRoute route = http(rule()
        .addNewBackendRef().withName("web").endBackendRef()
        .addNewBackendRef().withGroup("example.com").withKind("Bucket").withNamespace("other").withName("b")
            .withPort(81).withWeight(0).endBackendRef()
        .build());

    assertThat(RouteConverters.httpRoute(route).value().rules().get(0).backends()).containsExactly(
        new MeshRoute.Backend("", "Service", "shop", "web", 0, 1),
        new MeshRoute.Backend("example.com", "Bucket", "other", "b", 81, 0));
  }

  @Test
  void timeoutsAndRetryAreGatewayApiDurations() {
    HTTPRoute route = http(rule().withNewTimeouts().withRequest("1h30m").withBackendRequest("500ms").endTimeouts()
        .withNewRetry().withAttempts(3).withCodes(503, 504).withBackoff("100ms").endRetry().build(),
        rule().withNewRetry().endRetry().build());

    List<MeshRoute.Rule> rules = RouteConverters.httpRoute(route).value().rules();

    assertThat(rules.get(0).requestTimeout()).isEqualTo(Duration.ofMinutes(90));
    assertThat(rules.get(0).backendTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(rules.get(0).retry()).isEqualTo(new MeshRoute.Retry(3, com.google.common.collect.ImmutableList.of(503, 504),
        Duration.ofMillis(100)));
    assertThat(rules.get(1).retry()).isEqualTo(new MeshRoute.Retry(RouteConverters.DEFAULT_RETRY_ATTEMPTS, null, null));
    assertThat(rules.get(1).requestTimeout()).isNull();
  }

  @Test
  void durationsFollowTheGatewayApiGrammar() {
    assertThat(RouteConverters.duration("10s")).isEqualTo(Duration.ofSeconds(10));
    assertThat(RouteConverters.duration("1ms")).isEqualTo(Duration.ofMillis(1));
    assertThat(RouteConverters.duration("1m5s")).isEqualTo(Duration.ofSeconds(65));
    assertThat(RouteConverters.duration("0s")).isEqualTo(Duration.ZERO);
    assertThat(RouteConverters.duration("1h1m1s1ms")).isEqualTo(Duration.ofMillis(3_661_001));
    assertThat(RouteConverters.duration("99999h")).isEqualTo(Duration.ofHours(99999));
    for (String bad : Arrays.asList("", "10", "1.5s", "-1s", "1d", "100000s", "1h1m1s1ms1h", "10 s", "1S", null)) {
      assertThatThrownBy(() -> RouteConverters.duration(bad)).as(String.valueOf(bad))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void anUnparsableDurationRejectsTheWholeRoute() {
    HTTPRoute route = http(rule().build(), rule().withNewTimeouts().withRequest("ten seconds").endTimeouts().build());
    HTTPRoute backoff = http(rule().withNewRetry().withBackoff("1.5s").endRetry().build());

    MeshRoute converted = RouteConverters.httpRoute(route).value();

    assertThat(converted.rejected()).contains("timeouts.request").contains("'ten seconds'");
    assertThat(converted.rules()).isEmpty();
    assertThat(converted.parents()).hasSize(1);
    assertThat(RouteConverters.httpRoute(backoff).value().rejected()).contains("retry.backoff");
  }

  // ---- hostile input ----

  @Test
  void objectsThatCannotBeNamedThrowAConversionException() {
    assertThatThrownBy(() -> RouteConverters.httpRoute(new HTTPRoute())).isInstanceOf(ConversionException.class);
    assertThatThrownBy(() -> RouteConverters.grpcRoute(new GRPCRouteBuilder().withNewMetadata().withName("r")
        .endMetadata().build())).isInstanceOf(ConversionException.class).hasMessageContaining("namespace");
    assertThatThrownBy(() -> RouteConverters.httpRoute(null)).isInstanceOf(ConversionException.class);
  }

  @Test
  void nullsEverywhereConvertWithoutThrowing() {
    HTTPRoute noSpec = new HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("r").endMetadata()
        .build();
    assertThat(RouteConverters.httpRoute(noSpec).value().parents()).isEmpty();

    HTTPRouteRule nullParts = new HTTPRouteRule();
    nullParts.setMatches(Arrays.asList(null, new HTTPRouteMatch()));
    nullParts.setFilters(Arrays.asList(null, new HTTPRouteFilter()));
    nullParts.setBackendRefs(Arrays.asList(null, new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef()));
    HTTPRouteMatch nullHeaders = new HTTPRouteMatch();
    nullHeaders.setHeaders(Arrays.asList(null, new HTTPHeaderMatch()));
    HTTPRouteRule nullMatchParts = rule().withMatches(nullHeaders).build();
    HTTPRoute route = http();
    route.getSpec().setRules(Arrays.asList(nullParts, null, nullMatchParts));

    Converted<MeshRoute> converted = RouteConverters.httpRoute(route);

    assertThat(converted.value().rules()).hasSize(2);
    assertThat(converted.value().rules().get(0).backends()).extracting(MeshRoute.Backend::name).containsExactly("");
    assertThat(converted.value().rules().get(1).matches().get(0).headers())
        .isNotEmpty().allSatisfy(h -> assertThat(h).isEqualTo(new ValueMatch(null, MatchType.EXACT, null)));
    // validation, not the converter, refuses what is missing; the store then keeps the route rejected
    assertThat(RouteValidation.validate(converted.value()).rejected()).isNotNull();
    assertThat(ClusterState.builder(MeshOptions.DEFAULTS).putRoute(converted.value()).build().routes().values())
        .singleElement().satisfies(r -> assertThat(r.rejected()).isNotNull());

    GRPCRouteRule grpcNulls = new GRPCRouteRule();
    grpcNulls.setMatches(Arrays.asList(null, new io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteMatch()));
    grpcNulls.setFilters(Arrays.asList(null, new io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteFilter()));
    assertThat(RouteConverters.grpcRoute(grpc(grpcNulls)).value().rules()).hasSize(1);
  }

  @Test
  void listsFarBeyondTheCrdBoundsAreCutAndRejectTheRoute() {
    List<HTTPRouteMatch> matches = new ArrayList<>(Collections.nCopies(100_000,
        match().withNewPath().withValue("/").endPath().build()));
    List<ParentReference> parents = new ArrayList<>(Collections.nCopies(10_000, WEB_PARENT));
    HTTPRoute route = new HTTPRouteBuilder(http(rule().withMatches(matches).build()))
        .editSpec().withParentRefs(parents).endSpec().build();

    MeshRoute converted = RouteConverters.httpRoute(route).value();

    assertThat(converted.rejected()).contains("more than 32 parentRefs (10000)");
    assertThat(converted.parents()).hasSize(RouteValidation.MAX_PARENTS * RouteConverters.COPY_FACTOR);
    assertThat(converted.rules()).isEmpty();

    HTTPRoute manyMatches = http(rule().withMatches(matches).build());
    assertThat(RouteConverters.httpRoute(manyMatches).value().rejected()).contains("more than 64 matches (100000)");
  }

  @Test
  void justOverTheCrdBoundIsLeftToValidation() {
    List<HTTPRouteRule> rules = new ArrayList<>(Collections.nCopies(RouteValidation.MAX_RULES + 1, rule().build()));
    MeshRoute converted = RouteConverters.httpRoute(http(rules.toArray(HTTPRouteRule[]::new))).value();
    assertThat(converted.rejected()).isNull();
    assertThat(converted.rules()).hasSize(17);
    assertThat(RouteValidation.validate(converted).rejected()).contains("more than 16 rules");
  }

  @Test
  void hostileTextInAFilterTypeIsBoundedAndPrintable() {
    HTTPRoute route = http(rule().withFilters(filter("X\n".repeat(10_000)).build()).build());
    MeshRoute.Unsupported unsupported =
        (MeshRoute.Unsupported) RouteConverters.httpRoute(route).value().rules().get(0).filters().get(0);
    assertThat(unsupported.type()).hasSizeLessThanOrEqualTo(64).doesNotContain("\n");
  }

  // ---- helpers ----

  private static HTTPRoute http(HTTPRouteRule... rules) {
    return new HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("r").endMetadata()
        .withNewSpec().withParentRefs(WEB_PARENT).withRules(Arrays.asList(rules)).endSpec().build();
  }

  private static GRPCRoute grpc(GRPCRouteRule... rules) {
    return new GRPCRouteBuilder().withNewMetadata().withNamespace("shop").withName("g").endMetadata()
        .withNewSpec().withParentRefs(WEB_PARENT).withRules(Arrays.asList(rules)).endSpec().build();
  }

  private static HTTPRouteRuleBuilder rule() {
    return new HTTPRouteRuleBuilder();
  }

  private static GRPCRouteRuleBuilder grpcRule() {
    return new GRPCRouteRuleBuilder();
  }

  private static HTTPRouteMatchBuilder match() {
    return new HTTPRouteMatchBuilder();
  }

  private static HTTPRouteFilterBuilder filter(String type) {
    return new HTTPRouteFilterBuilder().withType(type);
  }
}
