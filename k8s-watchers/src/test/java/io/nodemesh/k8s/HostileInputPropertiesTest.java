package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NetnsMode;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Thousands of random and hostile Kubernetes objects through the converters and the model: nothing but a
 * {@link ConversionException} may escape a converter, the model never throws, and whatever the model accepts
 * is within the limits the translator relies on (valid names, parseable IPs, safe netns paths, sane ports).
 */
class HostileInputPropertiesTest {

  private static final Pattern SAFE_NETNS = Pattern.compile("/[A-Za-z0-9._/-]{1,255}");
  private static final MeshOptions ANNOTATION_MODE = new MeshOptions(true, NetnsMode.ANNOTATION, null, null);
  private static final ObjectKey HONEST_KEY = ObjectKey.of("good", "honest");
  private static final String HONEST_NETNS = "/var/run/netns/honest";

  @Property(tries = 1500)
  void hostilePodsAreConvertedOrRejectedAndNeverYieldAnUnsafeNetnsPath(@ForAll("pods") Pod pod) {
    ClusterState.Builder model = ClusterState.builder(ANNOTATION_MODE);
    Converted<PodInfo> converted;
    try {
      converted = Converters.pod(pod);
    } catch (ConversionException rejected) {
      assertThat(rejected.getMessage()).isNotBlank();
      return;
    }
    ClusterState state = model.putPod(converted.value()).build();
    Statistics.label("meshed").collect(state.pods().values().stream().anyMatch(p -> p.mesh().meshed()));
    Statistics.label("meshed").coverage(coverage -> coverage.check(true).count(meshed -> meshed >= 10));
    for (PodInfo accepted : state.pods().values()) {
      assertThat(accepted.name().length()).isLessThanOrEqualTo(253);
      assertThat(accepted.ips()).allSatisfy(ip -> assertThat(com.google.common.net.InetAddresses.isInetAddress(ip)).isTrue());
      if (accepted.mesh().meshed()) {
        String path = accepted.mesh().netnsPath().orElseThrow();
        assertThat(path).matches(SAFE_NETNS).startsWith(MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX)
            .doesNotContain("/../", "/./", "//").doesNotEndWith("/..");
      }
    }
  }

  @Property(tries = 1000)
  void hostileServicesKeepOnlyUsablePorts(@ForAll("services") Service service) {
    Converted<io.nodemesh.model.ServiceInfo> converted;
    try {
      converted = Converters.service(service);
    } catch (ConversionException rejected) {
      return;
    }
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS).putService(converted.value()).build();
    Statistics.label("accepted with ports").collect(
        state.services().values().stream().anyMatch(s -> !s.ports().isEmpty()));
    Statistics.label("accepted with ports").coverage(coverage -> coverage.check(true).count(n -> n >= 10));
    state.services().values().forEach(accepted -> {
      assertThat(accepted.name()).matches("[a-z]([-a-z0-9]{0,61}[a-z0-9])?");
      assertThat(accepted.ports()).allSatisfy(port -> assertThat(port.port()).isBetween(1, 65535));
      assertThat(accepted.ports().stream().map(p -> p.port() + "/" + p.protocol()).distinct().count())
          .isEqualTo(accepted.ports().size());
      assertThat(accepted.clusterIps())
          .allSatisfy(ip -> assertThat(com.google.common.net.InetAddresses.isInetAddress(ip)).isTrue());
    });
  }

  @Property(tries = 1000)
  void hostileEndpointSlicesKeepOnlyValidAddresses(@ForAll("slices") EndpointSlice slice) {
    Converted<io.nodemesh.model.EndpointSliceInfo> converted;
    try {
      converted = Converters.endpointSlice(slice);
    } catch (ConversionException rejected) {
      return;
    }
    ClusterState state = ClusterState.builder(MeshOptions.DEFAULTS).putEndpointSlice(converted.value()).build();
    state.endpointSlices().values().forEach(accepted -> {
      assertThat(accepted.ports()).allSatisfy(port -> assertThat(port.port()).isBetween(1, 65535));
      accepted.endpoints().forEach(endpoint -> assertThat(endpoint.addresses()).isNotEmpty());
    });
  }

  @Property(tries = 300)
  void aHostilePodNeverChangesAnotherPodInTheModel(@ForAll("pods") Pod hostile) {
    ClusterState.Builder model = ClusterState.builder(ANNOTATION_MODE);
    PodInfo honest = Converters.pod(new PodBuilder()
        .withNewMetadata().withNamespace("good").withName("honest").withUid("6b1f0a52-3c1e-4a57-9d1e-0c5e8b7a9f10")
            .addToAnnotations("nodemesh.io/netns", HONEST_NETNS).endMetadata()
        .withNewSpec().withNodeName("node-a").endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.0.0.1").endStatus().build()).value();
    ClusterState before = model.putPod(honest).build();
    try {
      model.putPod(Converters.pod(hostile).value());
    } catch (ConversionException rejected) {
      // rejected before the model: nothing changed by construction
    }
    ClusterState after = model.build();
    // whatever happens, no other pod is ever meshed into the honest pod's namespace
    assertThat(after.podsOnNode("node-a")).filteredOn(pod -> !pod.key().equals(HONEST_KEY))
        .noneMatch(pod -> pod.mesh().netnsPath().equals(Optional.of(HONEST_NETNS)));
    if (hostile.getMetadata().getName().equals("honest") && "good".equals(hostile.getMetadata().getNamespace())) {
      return; // the hostile pod is the honest pod's new version
    }
    PodInfo honestAfter = after.pod(HONEST_KEY).orElseThrow();
    boolean contested = !honestAfter.equals(before.pod(HONEST_KEY).orElseThrow());
    Statistics.label("hostile pod named the honest pod's namespace").collect(contested);
    if (contested) {
      // the only way another pod affects this one: naming its namespace, which refuses both (nobody takes it)
      assertThat(honestAfter.mesh().meshed()).isFalse();
      assertThat(honestAfter.mesh().reason()).contains("is also named by pod");
      assertThat(hostile.getMetadata().getAnnotations()).containsEntry("nodemesh.io/netns", HONEST_NETNS);
    }
  }

  // ---- generators

  private static Arbitrary<String> hostileText() {
    return Arbitraries.oneOf(
        Arbitraries.strings().ofMinLength(0).ofMaxLength(300),
        Arbitraries.strings().withCharRange('a', 'z').withChars('-', '.').ofMinLength(1).ofMaxLength(70),
        Arbitraries.of("", "a", "default", "kube-system", "UPPER", "ünïcödé", "a/b", "..", "a\nb", "x".repeat(254),
            "y".repeat(63), "-leading", "trailing-", "😀"));
  }

  /** Mostly valid DNS labels, so that hostile fields are tested on objects that otherwise get through. */
  private static Arbitrary<String> mostlyValidName() {
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(20)),
        net.jqwik.api.Tuple.of(1, hostileText()));
  }

  private static Arbitrary<String> mostlyValidIp() {
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(1, 254).map(i -> "10.1.0." + i)),
        net.jqwik.api.Tuple.of(1, hostileIp()));
  }

  private static Arbitrary<String> hostileIp() {
    return Arbitraries.oneOf(
        Arbitraries.of("10.0.0.5", "fd00::5", "::1", "300.1.1.1", "1.2.3", "not-an-ip", "", "0.0.0.0",
            "10.0.0.5/32", " 10.0.0.6", "::ffff:10.0.0.7", "fe80::1%eth0"),
        Arbitraries.strings().ofMaxLength(40));
  }

  private static Arbitrary<String> hostileNetns() {
    return Arbitraries.oneOf(
        Arbitraries.of("/var/run/netns/ok", HONEST_NETNS, "/var/run/netns/../../proc/1/ns/net", "/proc/self/ns/net",
            "/var/run/netns/%START_TIME%", "/var/run/netns/a\u0000b", "/var/run/netns//x", "/var/run/netns/.",
            "/var/run/netnsX/y", "var/run/netns/x", "/var/run/netns/" + "z".repeat(300), "/var/run/netns/ü"),
        Arbitraries.strings().ofMaxLength(80).map(s -> "/var/run/netns/" + s),
        Arbitraries.strings().withCharRange('a', 'z').withChars('-', '.', '_').ofMinLength(1).ofMaxLength(30)
            .map(s -> "/var/run/netns/" + s));
  }

  private static Arbitrary<Map<String, String>> hostileMap() {
    return Arbitraries.maps(hostileText(), hostileText()).ofMaxSize(40);
  }

  @Provide
  Arbitrary<Pod> pods() {
    Arbitrary<String> phase = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(4, Arbitraries.just("Running")),
        net.jqwik.api.Tuple.of(1, Arbitraries.of("Pending", "Succeeded", "Failed", "Unknown", "", "Weird")));
    return Combinators.combine(mostlyValidName(), mostlyValidName(), hostileText(),
            mostlyValidIp().list().ofMaxSize(5),
            phase, hostileNetns(), hostileMap(), Arbitraries.of(true, false))
        .as((namespace, name, uid, ips, podPhase, netns, labels, hostNetwork) -> {
          PodBuilder pod = new PodBuilder()
              .withNewMetadata().withNamespace(namespace).withName(name).withUid(uid).withLabels(labels)
                  .addToAnnotations("nodemesh.io/netns", netns).endMetadata()
              .withNewSpec().withNodeName("node-a").withHostNetwork(hostNetwork).endSpec()
              .withNewStatus().withPhase(podPhase).endStatus();
          ips.forEach(ip -> pod.editStatus().addNewPodIP().withIp(ip).endPodIP().endStatus());
          return pod.build();
        });
  }

  @Provide
  Arbitrary<Service> services() {
    Arbitrary<ServicePort> port = Combinators.combine(mostlyValidName(),
            Arbitraries.integers().between(-5, 70000), Arbitraries.of("TCP", "UDP", "SCTP", "HTTP", "", "tcp"),
            Arbitraries.of("grpc", "http", "h2c", "kubernetes.io/h2c", "mysql", "", "\u0000"))
        .as((name, number, protocol, app) -> new ServicePortBuilder().withName(name).withPort(number)
            .withProtocol(protocol).withAppProtocol(app).withTargetPort(new IntOrString(number)).build());
    return Combinators.combine(mostlyValidName(), mostlyValidName(), mostlyValidIp().list().ofMaxSize(4),
            port.list().ofMaxSize(40), hostileMap())
        .as((namespace, name, clusterIps, ports, selector) -> new ServiceBuilder()
            .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
            .withNewSpec().withClusterIPs(clusterIps).withPorts(ports).withSelector(selector).endSpec()
            .build());
  }

  @Provide
  Arbitrary<EndpointSlice> slices() {
    return Combinators.combine(mostlyValidName(), mostlyValidName(), mostlyValidName(),
            mostlyValidIp().list().ofMaxSize(20),
            Arbitraries.integers().between(-5, 70000), Arbitraries.of("IPv4", "IPv6", "FQDN", "bogus", ""))
        .as((namespace, name, service, ips, port, type) -> {
          EndpointSliceBuilder slice = new EndpointSliceBuilder()
              .withNewMetadata().withNamespace(namespace).withName(name)
                  .addToLabels("kubernetes.io/service-name", service).endMetadata()
              .withAddressType(type)
              .withPorts(new EndpointPortBuilder().withName("p").withPort(port).withProtocol("TCP").build());
          for (String ip : ips) {
            slice.addToEndpoints(new EndpointBuilder().withAddresses(List.of(ip)).build());
          }
          return slice.build();
        });
  }
}
