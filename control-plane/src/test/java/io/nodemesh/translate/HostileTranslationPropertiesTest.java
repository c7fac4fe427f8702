package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.ClusterState;
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
 * Random and hostile pods and services dropped into an honest cluster: translation never throws, every
 * resource it produces passes Envoy's PGV rules (typed_config included), and a hostile pod never changes
 * another pod's resources.
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
