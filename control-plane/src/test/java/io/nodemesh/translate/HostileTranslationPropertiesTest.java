package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * Random and hostile pods, services and routes dropped into an honest cluster: translation never throws, every
 * resource it produces passes Envoy's PGV rules (typed_config included), a hostile pod never changes another
 * pod's resources and a hostile route only its parent Service's route configs.
 */
class HostileTranslationPropertiesTest {

  private static final ClusterState HONEST = SyntheticCluster.build(1, 4, 3);
  private static final NodeResources HONEST_NODE = NodeTranslator.translate(HONEST, "node-0", TranslatorOptions.DEFAULTS);

  @Property(tries = 400)
  void aHostilePodTranslatesToValidConfigAndLeavesOtherPodsAlone(
      @ForAll("pods") PodInfo hostile, @ForAll UpstreamBinding binding) {
    TranslatorOptions options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding);
    ClusterState state = HONEST.toBuilder().putPod(hostile).build();
    NodeResources node = NodeTranslator.translate(state, "node-0", options);
    assertAllValid(node);

    NodeResources honest = binding == UpstreamBinding.SHARED ? HONEST_NODE
        : NodeTranslator.translate(HONEST, "node-0", options);
    String hostilePrefix = "pod/" + hostile.namespace() + "/" + hostile.name() + "/";
    honest.listeners().forEach((name, listener) -> {
      if (!name.startsWith(hostilePrefix)) {
        assertThat(node.listeners().get(name)).as(name).isEqualTo(listener);
      }
    });
    honest.clusters().forEach((name, cluster) -> {
      if (!name.startsWith(hostilePrefix)) {
        assertThat(node.clusters().get(name)).as(name).isEqualTo(cluster);
      }
    });
    Statistics.label("hostile pod got a listener").collect(node.listeners().containsKey(hostilePrefix + "outbound"));
    Statistics.label("hostile pod got a listener").coverage(c -> c.check(true).count(n -> n >= 20));
  }

  @Property(tries = 200)
  void aHostileServiceTranslatesToValidConfig(@ForAll("services") ServiceInfo hostile, @ForAll UpstreamBinding binding) {
    TranslatorOptions options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding);
    ClusterState state = HONEST.toBuilder().putService(hostile).build();
    SharedResources shared = SharedResources.translate(state, options);
    NodeResources node = NodeTranslator.translate(state, "node-0", options, shared);
    assertAllValid(node);
    for (Map<String, ? extends Message> resources : List.of(shared.proxylessListeners(), shared.clusters(),
        shared.endpoints(), shared.routes())) {
      resources.forEach((name, resource) -> assertThat(EnvoyValidator.violations(resource)).as(name).isEmpty());
    }
    Statistics.label("hostile service accepted").collect(state.services().containsKey(hostile.key()));
    Statistics.label("hostile service accepted").coverage(c -> c.check(true).count(n -> n >= 20));
  }

  @Property(tries = 600)
  void aHostileRouteTranslatesToValidConfigAndChangesOnlyItsParentsRouteConfigs(@ForAll("routes") MeshRoute hostile) {
    ClusterState state = HONEST.toBuilder().putRoute(hostile).build();
    SharedResources shared = SharedResources.translate(state, TranslatorOptions.DEFAULTS);
    NodeResources node = NodeTranslator.translate(state, "node-0", TranslatorOptions.DEFAULTS, shared);
    assertAllValid(node);
    SharedResources honest = SharedResources.translate(HONEST, TranslatorOptions.DEFAULTS);
    List<String> parentPrefixes = hostile.parents().stream()
        .map(parent -> "svc/" + parent.namespace() + "/" + parent.name() + "/").toList();
    shared.routes().forEach((name, route) -> {
      assertThat(EnvoyValidator.violations(route)).as(name).isEmpty();
      if (parentPrefixes.stream().noneMatch(name::startsWith)) {
        assertThat(route).as(name).isEqualTo(honest.routes().get(name));
      }
    });
    assertThat(shared.clusters()).isEqualTo(honest.clusters());
    boolean applied = !shared.routes().equals(honest.routes());
    Statistics.label("hostile route applied").collect(applied);
    // most samples are refused somewhere (each part is hostile now and then); enough must get through
    Statistics.label("hostile route applied").coverage(c -> c.check(true).count(n -> n >= 15));
  }

  private static void assertAllValid(NodeResources node) {
    for (Map<String, ? extends Message> resources :
        List.of(node.listeners(), node.clusters(), node.endpoints(), node.routes())) {
      resources.forEach((name, resource) -> assertThat(EnvoyValidator.violations(resource)).as(name).isEmpty());
    }
  }

  private static Arbitrary<String> name() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(20)),
        Tuple.of(1, Arbitraries.of("", "UPPER", "ü", "a/b", "x".repeat(300), "a.b", "-x", "%s")));
  }

  private static Arbitrary<String> ip() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.integers().between(1, 254).map(i -> "10.9.0." + i)),
        Tuple.of(1, Arbitraries.of("fd00::9", "::", "0.0.0.0", "bogus", "", "1.2.3.4.5", "255.255.255.255")));
  }

  private static Arbitrary<ImmutableSortedMap<String, String>> annotations() {
    Arbitrary<String> upstreams = Arbitraries.oneOf(
        Arbitraries.of("svc-0.apps", "svc-1.apps:80", "svc-2.apps:9000,svc-0.apps", "", ",,,", "NOPE", "a.b:99999",
            "svc-0.apps:" + "9".repeat(30)),
        Arbitraries.strings().ofMaxLength(200));
    Arbitrary<String> netns = Arbitraries.of("/var/run/netns/x", "/var/run/netns/../../etc", "/x%y");
    return Combinators.combine(upstreams, netns, Arbitraries.of(true, false))
        .as((scope, path, scoped) -> scoped
            ? ImmutableSortedMap.of("nodemesh.io/upstreams", scope, "nodemesh.io/netns", path)
            : ImmutableSortedMap.of("nodemesh.io/netns", path));
  }

  @Provide
  Arbitrary<PodInfo> pods() {
    return Combinators.combine(name(), ip().list().ofMaxSize(3), annotations(),
            Arbitraries.of(PodPhase.values()), Arbitraries.of(true, false),
            Arbitraries.strings().withCharRange('a', 'f').withCharRange('0', '9').ofMinLength(0).ofMaxLength(36))
        .as((podName, ips, annotations, phase, terminating, uid) -> new PodInfo(uid, "apps", podName,
            Optional.of("node-0"), ImmutableList.copyOf(ips), phase, false, terminating, null, annotations, null));
  }

  @Provide
  Arbitrary<MeshRoute> routes() {
    Arbitrary<String> text = mostly(Arbitraries.of("/", "/api", "/a/b/", "x-canary", "yes", "[0-9]+", "/items/.*"),
        Arbitraries.oneOf(Arbitraries.strings().ofMaxLength(40),
            Arbitraries.of("", "(", "a{1000}{1000}", "\\p{Bogus}", "\n", "x".repeat(5000), "../..")));
    Arbitrary<String> headerName = mostly(Arbitraries.of("x-canary", "X-User", "te"), text);
    Arbitrary<String> path = mostly(Arbitraries.of("/", "/api", "/a/b/", "/items/[0-9]+"), text);
    Arbitrary<MeshRoute.MatchType> type = Arbitraries.of(MeshRoute.MatchType.values());
    Arbitrary<MeshRoute.ValueMatch> value = Combinators.combine(headerName, type, text).as(MeshRoute.ValueMatch::new);
    Arbitrary<MeshRoute.Match> match = Combinators.combine(
            Combinators.combine(type, path).as(MeshRoute.PathMatch::new).injectNull(0.2),
            Arbitraries.frequencyOf(Tuple.of(19, value.list().ofMaxSize(2)), Tuple.of(1, value.list().ofSize(17)))
                .map(ImmutableList::copyOf),
            mostly(Arbitraries.of("", "GET"), Arbitraries.of("post", "G E T")),
            value.list().ofMaxSize(1).map(ImmutableList::copyOf))
        .as(MeshRoute.Match::new);
    Arbitrary<MeshRoute.Backend> backend = Combinators.combine(mostly(Arbitraries.of("", "core"), Arbitraries.just("gateway.x")),
            mostly(Arbitraries.just("Service"), Arbitraries.just("Pod")), mostly(Arbitraries.just("apps"), Arbitraries.just("other")),
            mostly(Arbitraries.of("svc-0", "svc-1", "svc-2"), Arbitraries.of("missing", "")),
            mostly(Arbitraries.of(80, 50051, 9000), Arbitraries.of(0, 70000)),
            mostly(Arbitraries.integers().between(0, 100), Arbitraries.of(-1, 0, 1_000_000, 1_000_001, Integer.MAX_VALUE)))
        .as(MeshRoute.Backend::new);
    Arbitrary<MeshRoute.Header> header = Combinators.combine(text, text).as(MeshRoute.Header::new);
    Arbitrary<MeshRoute.PathModifier> modifier = Arbitraries.oneOf(
        text.map(p -> new MeshRoute.PathModifier(p, null)), text.map(p -> new MeshRoute.PathModifier(null, p)),
        Arbitraries.just(new MeshRoute.PathModifier(null, null)));
    Arbitrary<MeshRoute.Filter> filter = Arbitraries.oneOf(
        Combinators.combine(Arbitraries.of(true, false), header.list().ofMaxSize(4).map(ImmutableList::copyOf),
            header.list().ofMaxSize(4).map(ImmutableList::copyOf), text.list().ofMaxSize(4).map(ImmutableList::copyOf))
            .as(MeshRoute.HeaderModifier::new),
        Combinators.combine(Arbitraries.of("", "https", "ftp"), text, Arbitraries.of(0, 443, -5),
            modifier.injectNull(0.3), Arbitraries.of(301, 302, 307)).as(MeshRoute.Redirect::new),
        Combinators.combine(text, modifier.injectNull(0.3)).as(MeshRoute.UrlRewrite::new),
        Combinators.combine(backend, Arbitraries.of(0, 1, 50, 100, 200), Arbitraries.of(0, 100, 1_000_000))
            .as(MeshRoute.Mirror::new),
        Arbitraries.of("CORS", "ExtensionRef", "").map(MeshRoute.Unsupported::new));
    Arbitrary<java.time.Duration> timeout = mostly(
        Arbitraries.of(java.time.Duration.ZERO, java.time.Duration.ofMillis(1), java.time.Duration.ofSeconds(10)),
        Arbitraries.of(java.time.Duration.ofSeconds(-1), java.time.Duration.ofDays(400))).injectNull(0.5);
    Arbitrary<MeshRoute.Retry> retry = Combinators.combine(mostly(Arbitraries.of(0, 3), Arbitraries.of(-1, 11)),
            mostly(Arbitraries.of(500, 503), Arbitraries.of(399, 600)).list().ofMaxSize(3).map(ImmutableList::copyOf),
            timeout)
        .as(MeshRoute.Retry::new).injectNull(0.5);
    Arbitrary<MeshRoute.Rule> rule = Combinators.combine(
            Arbitraries.frequencyOf(Tuple.of(19, match.list().ofMaxSize(3)), Tuple.of(1, match.list().ofSize(65)))
                .map(ImmutableList::copyOf),
            filter.list().ofMaxSize(1).map(ImmutableList::copyOf),
            Arbitraries.frequencyOf(Tuple.of(19, backend.list().ofMaxSize(3)), Tuple.of(1, backend.list().ofSize(17)))
                .map(ImmutableList::copyOf),
            timeout, timeout, retry)
        .as(MeshRoute.Rule::new);
    Arbitrary<MeshRoute.Parent> parent = Combinators.combine(Arbitraries.of("apps", "other"),
            Arbitraries.of("svc-0", "svc-1"), Arbitraries.of(0, 80, 50051, 9000),
            Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.just("")), Tuple.of(1, Arbitraries.of("http", "grpc", "nope"))))
        .as(MeshRoute.Parent::new);
    return Combinators.combine(Arbitraries.of(MeshRoute.Kind.values()),
            Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.just("r")), Tuple.of(1, Arbitraries.of("UPPER", "x".repeat(300)))),
            parent.list().ofMinSize(1).ofMaxSize(3).map(ImmutableList::copyOf), rule.list().ofMaxSize(4).map(ImmutableList::copyOf))
        .as((kind, routeName, parents, rules) -> new MeshRoute(kind, "apps", routeName, 1, 0,
            ImmutableList.<MeshRoute.Parent>builder().add(new MeshRoute.Parent("apps", parents.get(0).name(),
                parents.get(0).port(), parents.get(0).sectionName())).addAll(parents).build(), rules, null));
  }

  /** Values from {@code usual} 19 times in 20, else from {@code hostile}: each part hostile now and then. */
  private static <T> Arbitrary<T> mostly(Arbitrary<T> usual, Arbitrary<T> hostile) {
    return Arbitraries.frequencyOf(Tuple.of(19, usual), Tuple.of(1, hostile));
  }

  @Provide
  Arbitrary<ServiceInfo> services() {
    Arbitrary<ServicePort> port = Combinators.combine(name(), Arbitraries.integers().between(-1, 70000),
            Arbitraries.of(Protocol.values()),
            Arbitraries.of("", "grpc", "http", "h2c", "weird/proto").map(app -> Optional.of(app).filter(a -> !a.isEmpty())))
        .as((portName, number, protocol, app) -> new ServicePort(portName, number, "x", protocol, app));
    return Combinators.combine(name(), ip().list().ofMaxSize(3), port.list().ofMaxSize(30))
        .as((serviceName, ips, ports) -> new ServiceInfo("apps", serviceName, ImmutableList.copyOf(ips),
            ImmutableList.copyOf(ports), null));
  }
}
