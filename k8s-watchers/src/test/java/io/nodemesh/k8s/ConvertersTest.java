package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshStatus;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ConvertersTest {

  @Nested
  class Pods {

    @Test
    void aRunningPodCarriesIdentityPlacementIpsAndLabels() {
      Pod pod = new PodBuilder()
          .withNewMetadata().withNamespace("shop").withName("cart-1").withUid("uid-1")
          .withLabels(Map.of("app", "cart", "odd", "värde with spaces/and:colons"))
          .endMetadata()
          .withNewSpec().withNodeName("node-a").endSpec()
          .withNewStatus().withPhase("Running").withPodIP("10.0.0.5")
          .addNewPodIP().withIp("10.0.0.5").endPodIP()
          .addNewPodIP().withIp("fd00::5").endPodIP()
          .endStatus()
          .build();

      Converted<PodInfo> converted = Converters.pod(pod);

      PodInfo info = converted.value();
      assertThat(converted.problems()).isEmpty();
      assertThat(info.key()).isEqualTo(ObjectKey.of("shop", "cart-1"));
      assertThat(info.uid()).isEqualTo("uid-1");
      assertThat(info.nodeName()).contains("node-a");
      assertThat(info.ips()).containsExactly("10.0.0.5", "fd00::5");
      assertThat(info.phase()).isEqualTo(PodPhase.RUNNING);
      assertThat(info.hostNetwork()).isFalse();
      assertThat(info.terminating()).isFalse();
      assertThat(info.labels()).containsEntry("odd", "värde with spaces/and:colons");
      assertThat(info.mesh()).isEqualTo(MeshStatus.UNEVALUATED);
    }

    @Test
    void podIpIsTheFallbackWhenPodIpsIsAbsent() {
      Pod pod = pod("a").editStatus().withPodIP("10.1.2.3").endStatus().build();

      assertThat(Converters.pod(pod).value().ips()).containsExactly("10.1.2.3");
    }

    @Test
    void aPendingPodWithoutStatusHasNoIpAndNoNode() {
      Pod pod = new PodBuilder().withNewMetadata().withNamespace("ns").withName("p").endMetadata()
          .withNewSpec().endSpec().build();

      PodInfo info = Converters.pod(pod).value();

      assertThat(info.ips()).isEmpty();
      assertThat(info.nodeName()).isEmpty();
      assertThat(info.phase()).isEqualTo(PodPhase.PENDING);
    }

    @Test
    void aDeletionTimestampMakesThePodTerminating() {
      Pod pod = pod("a").editMetadata().withDeletionTimestamp("2025-01-01T00:00:00Z").endMetadata().build();

      assertThat(Converters.pod(pod).value().terminating()).isTrue();
    }

    @Test
    void hostNetworkIsCarriedOver() {
      Pod pod = pod("a").editSpec().withHostNetwork(true).endSpec().build();

      assertThat(Converters.pod(pod).value().hostNetwork()).isTrue();
    }

    @Test
    void onlyNodemeshAnnotationsAreKept() {
      Pod pod = pod("a").editMetadata()
          .withAnnotations(Map.of("nodemesh.io/netns", "/var/run/netns/x",
              "kubectl.kubernetes.io/last-applied-configuration", "{...huge...}"))
          .endMetadata().build();

      assertThat(Converters.pod(pod).value().annotations()).containsOnlyKeys("nodemesh.io/netns");
    }

    @Test
    void anUnknownPhaseBecomesUnknownWithAProblem() {
      Pod pod = pod("a").editStatus().withPhase("Exploded").endStatus().build();

      Converted<PodInfo> converted = Converters.pod(pod);

      assertThat(converted.value().phase()).isEqualTo(PodPhase.UNKNOWN);
      assertThat(converted.problems()).singleElement().asString().contains("Exploded");
    }

    @Test
    void moreThanTwoPodIpsAreCutWithAProblem() {
      Pod pod = pod("a").editStatus()
          .addNewPodIP().withIp("10.0.0.1").endPodIP()
          .addNewPodIP().withIp("10.0.0.2").endPodIP()
          .addNewPodIP().withIp("10.0.0.3").endPodIP()
          .endStatus().build();

      Converted<PodInfo> converted = Converters.pod(pod);

      assertThat(converted.value().ips()).containsExactly("10.0.0.1", "10.0.0.2");
      assertThat(converted.problems()).singleElement().asString().contains("3 IPs");
    }

    @Test
    void invalidIpsPassThroughForTheModelToReject() {
      // the model validates and canonicalizes IPs and records the problem under the pod
      Pod pod = pod("a").editStatus().addNewPodIP().withIp("not-an-ip").endPodIP().endStatus().build();

      assertThat(Converters.pod(pod).value().ips()).containsExactly("not-an-ip");
    }

    @Test
    void labelsWithoutValueAreSkippedWithAProblem() {
      Map<String, String> labels = new HashMap<>();
      labels.put("app", "x");
      labels.put("broken", null);
      Pod pod = pod("a").editMetadata().withLabels(labels).endMetadata().build();

      Converted<PodInfo> converted = Converters.pod(pod);

      assertThat(converted.value().labels()).containsOnlyKeys("app");
      assertThat(converted.problems()).singleElement().asString().contains("broken");
    }

    @Test
    void aPodWithoutNameIsRejected() {
      Pod pod = new PodBuilder().withNewMetadata().withNamespace("ns").endMetadata().withNewSpec().endSpec().build();

      assertThatThrownBy(() -> Converters.pod(pod)).isInstanceOf(ConversionException.class)
          .hasMessageContaining("metadata.name");
    }

    @Test
    void aPodWithoutMetadataIsRejected() {
      assertThatThrownBy(() -> Converters.pod(new Pod())).isInstanceOf(ConversionException.class)
          .hasMessageContaining("metadata");
    }

    @Test
    void aPodWithoutNamespaceIsRejected() {
      Pod pod = new PodBuilder().withNewMetadata().withName("p").endMetadata().withNewSpec().endSpec().build();

      assertThatThrownBy(() -> Converters.pod(pod)).isInstanceOf(ConversionException.class)
          .hasMessageContaining("namespace");
    }

    @Test
    void aPodWithoutSpecIsRejected() {
      Pod pod = new PodBuilder().withNewMetadata().withNamespace("ns").withName("p").endMetadata().build();

      assertThatThrownBy(() -> Converters.pod(pod)).isInstanceOf(ConversionException.class)
          .hasMessageContaining("spec");
    }

    private PodBuilder pod(String name) {
      return new PodBuilder()
          .withNewMetadata().withNamespace("ns").withName(name).withUid("u-" + name).endMetadata()
          .withNewSpec().withNodeName("node-a").endSpec()
          .withNewStatus().withPhase("Running").endStatus();
    }
  }

  @Nested
  class Services {

    @Test
    void aDualStackServiceKeepsAllClusterIpsPortsAndSelector() {
      Service service = service()
          .editSpec().withClusterIP("10.96.0.10").withClusterIPs("10.96.0.10", "fd00::10")
          .withSelector(Map.of("app", "web"))
          .addToPorts(new ServicePortBuilder().withName("http").withPort(80)
              .withTargetPort(new IntOrString(8080)).withAppProtocol("http").build())
          .addToPorts(new ServicePortBuilder().withName("grpc").withPort(9090)
              .withTargetPort(new IntOrString("grpc-port")).withProtocol("TCP").build())
          .addToPorts(new ServicePortBuilder().withName("dns").withPort(53).withProtocol("UDP").build())
          .endSpec().build();

      Converted<ServiceInfo> converted = Converters.service(service);

      ServiceInfo info = converted.value();
      assertThat(converted.problems()).isEmpty();
      assertThat(info.clusterIps()).containsExactly("10.96.0.10", "fd00::10");
      assertThat(info.headless()).isFalse();
      assertThat(info.selector()).containsEntry("app", "web");
      assertThat(info.ports()).containsExactly(
          new ServicePort("http", 80, "8080", Protocol.TCP, Optional.of("http")),
          new ServicePort("grpc", 9090, "grpc-port", Protocol.TCP, Optional.empty()),
          new ServicePort("dns", 53, "53", Protocol.UDP, Optional.empty()));
    }

    @Test
    void clusterIpIsTheFallbackWhenClusterIpsIsAbsent() {
      Service service = service().editSpec().withClusterIP("10.96.1.1").endSpec().build();

      assertThat(Converters.service(service).value().clusterIps()).containsExactly("10.96.1.1");
    }

    @Test
    void clusterIpNoneMeansHeadless() {
      Service service = service().editSpec().withClusterIP("None").withClusterIPs("None").endSpec().build();

      assertThat(Converters.service(service).value().headless()).isTrue();
    }

    @Test
    void anUnknownProtocolSkipsThatPortWithAProblem() {
      Service service = service().editSpec()
          .addToPorts(new ServicePortBuilder().withName("weird").withPort(1).withProtocol("QUIC").build())
          .addToPorts(new ServicePortBuilder().withName("ok").withPort(2).build())
          .endSpec().build();

      Converted<ServiceInfo> converted = Converters.service(service);

      assertThat(converted.value().ports()).extracting(ServicePort::name).containsExactly("ok");
      assertThat(converted.problems()).singleElement().asString().contains("weird").contains("QUIC");
    }

    @Test
    void aPortWithoutNumberIsSkippedWithAProblem() {
      Service service = service().editSpec()
          .addToPorts(new ServicePortBuilder().withName("nonum").build()).endSpec().build();

      Converted<ServiceInfo> converted = Converters.service(service);

      assertThat(converted.value().ports()).isEmpty();
      assertThat(converted.problems()).singleElement().asString().contains("no port number");
    }

    @Test
    void anAbsurdPortCountIsCutBeforeConversionWithOneProblem() {
      List<io.fabric8.kubernetes.api.model.ServicePort> ports = IntStream.rangeClosed(1, 50_000)
          .mapToObj(i -> new ServicePortBuilder().withName("p" + i).withPort(i).build())
          .toList();
      Service service = service().editSpec().withPorts(ports).endSpec().build();

      Converted<ServiceInfo> converted = Converters.service(service);

      assertThat(converted.value().ports()).hasSize(Converters.MAX_SERVICE_PORTS);
      assertThat(converted.problems()).singleElement().asString().contains("50000 ports");
    }

    @Test
    void trafficDistributionPreferCloseAndPreferSameZoneAreSynonymsAndPreferSameNodeIsItsOwn() {
      assertThat(Converters.service(service().editSpec().withTrafficDistribution("PreferClose").endSpec().build())
          .value().trafficDistribution()).isEqualTo(TrafficDistribution.PREFER_SAME_ZONE);
      assertThat(Converters.service(service().editSpec().withTrafficDistribution("PreferSameZone").endSpec().build())
          .value().trafficDistribution()).isEqualTo(TrafficDistribution.PREFER_SAME_ZONE);
      Converted<ServiceInfo> sameNode =
          Converters.service(service().editSpec().withTrafficDistribution("PreferSameNode").endSpec().build());
      assertThat(sameNode.value().trafficDistribution()).isEqualTo(TrafficDistribution.PREFER_SAME_NODE);
      assertThat(sameNode.problems()).isEmpty();
    }

    @Test
    void noTrafficDistributionIsNoPreferenceWithoutAProblem() {
      Converted<ServiceInfo> unset = Converters.service(service().build());
      Converted<ServiceInfo> empty =
          Converters.service(service().editSpec().withTrafficDistribution("").endSpec().build());

      assertThat(unset.value().trafficDistribution()).isEqualTo(TrafficDistribution.NONE);
      assertThat(empty.value().trafficDistribution()).isEqualTo(TrafficDistribution.NONE);
      assertThat(unset.problems()).isEmpty();
      assertThat(empty.problems()).isEmpty();
    }

    @Test
    void anUnknownOrHostileTrafficDistributionIsNoPreferenceWithABoundedProblem() {
      String hostile = "PreferClose%DOWNSTREAM_LOCAL_ADDRESS%\n" + "x".repeat(10_000);
      for (String value : List.of("preferclose", "PreferRegion", hostile)) {
        Converted<ServiceInfo> converted =
            Converters.service(service().editSpec().withTrafficDistribution(value).endSpec().build());

        assertThat(converted.value().trafficDistribution()).isEqualTo(TrafficDistribution.NONE);
        assertThat(converted.problems()).singleElement().asString().contains("trafficDistribution")
            .hasSizeLessThan(300);
      }
    }

    @Test
    void aServiceWithoutSpecIsRejected() {
      Service service = new ServiceBuilder().withNewMetadata().withNamespace("ns").withName("s").endMetadata().build();

      assertThatThrownBy(() -> Converters.service(service)).isInstanceOf(ConversionException.class)
          .hasMessageContaining("spec");
    }

    private ServiceBuilder service() {
      return new ServiceBuilder().withNewMetadata().withNamespace("ns").withName("web").endMetadata()
          .withNewSpec().endSpec();
    }
  }

  @Nested
  class EndpointSlices {

    @Test
    void aSliceBelongsToTheServiceNamedByItsLabelAndKeepsZonesNodesAndPods() {
      EndpointSlice slice = slice()
          .addToEndpoints(new EndpointBuilder().withAddresses("10.0.0.1").withNodeName("node-a").withZone("z1")
              .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
              .withNewTargetRef().withKind("Pod").withName("web-1").withNamespace("ns").endTargetRef()
              .build())
          .build();

      Converted<EndpointSliceInfo> converted = Converters.endpointSlice(slice);

      EndpointSliceInfo info = converted.value();
      assertThat(converted.problems()).isEmpty();
      assertThat(info.serviceKey()).isEqualTo(ObjectKey.of("ns", "web"));
      assertThat(info.addressType()).isEqualTo(AddressType.IPV4);
      assertThat(info.ports()).singleElement().satisfies(port -> {
        assertThat(port.name()).isEqualTo("http");
        assertThat(port.port()).isEqualTo(8080);
        assertThat(port.appProtocol()).contains("http");
      });
      assertThat(info.endpoints()).containsExactly(new EndpointInfo(
          com.google.common.collect.ImmutableList.of("10.0.0.1"), true, true, false,
          Optional.of("node-a"), Optional.of("z1"), Optional.of(ObjectKey.of("ns", "web-1"))));
    }

    @Test
    void unsetConditionsFollowTheApiDefaults() {
      EndpointSlice slice = slice()
          .addToEndpoints(new EndpointBuilder().withAddresses("10.0.0.1").build())
          .addToEndpoints(new EndpointBuilder().withAddresses("10.0.0.2")
              .withNewConditions().withReady(false).endConditions().build())
          .addToEndpoints(new EndpointBuilder().withAddresses("10.0.0.3")
              .withNewConditions().withReady(false).withServing(true).withTerminating(true).endConditions().build())
          .build();

      List<EndpointInfo> endpoints = Converters.endpointSlice(slice).value().endpoints();

      // ready unset = ready; serving unset = same as ready; terminating unset = false
      assertThat(endpoints.get(0)).extracting(EndpointInfo::ready, EndpointInfo::serving, EndpointInfo::terminating)
          .containsExactly(true, true, false);
      assertThat(endpoints.get(1)).extracting(EndpointInfo::ready, EndpointInfo::serving, EndpointInfo::terminating)
          .containsExactly(false, false, false);
      assertThat(endpoints.get(2)).extracting(EndpointInfo::ready, EndpointInfo::serving, EndpointInfo::terminating)
          .containsExactly(false, true, true);
    }

    @Test
    void aTargetRefThatIsNotAPodIsIgnored() {
      EndpointSlice slice = slice()
          .addToEndpoints(new EndpointBuilder().withAddresses("10.0.0.1")
              .withNewTargetRef().withKind("Node").withName("n").endTargetRef().build())
          .build();

      assertThat(Converters.endpointSlice(slice).value().endpoints().get(0).targetPod()).isEmpty();
    }

    @Test
    void endpointsWithoutAddressesAndPortsWithUnknownProtocolsAreSkippedWithProblems() {
      EndpointSlice slice = slice()
          .addNewPort().withName("odd").withPort(1).withProtocol("SPX").endPort()
          .addToEndpoints(new EndpointBuilder().build())
          .build();

      Converted<EndpointSliceInfo> converted = Converters.endpointSlice(slice);

      assertThat(converted.value().ports()).extracting(io.nodemesh.model.EndpointPort::name).containsExactly("http");
      assertThat(converted.value().endpoints()).isEmpty();
      assertThat(converted.problems()).hasSize(2);
    }

    @Test
    void moreEndpointsThanTheApiAllowsAreCutWithOneProblem() {
      EndpointSliceBuilder builder = slice();
      for (int i = 0; i < 1500; i++) {
        builder.addToEndpoints(new EndpointBuilder().withAddresses("10.1." + (i / 256) + "." + (i % 256)).build());
      }

      Converted<EndpointSliceInfo> converted = Converters.endpointSlice(builder.build());

      assertThat(converted.value().endpoints()).hasSize(Converters.MAX_SLICE_ENDPOINTS);
      assertThat(converted.problems()).singleElement().asString().contains("1500 endpoints");
    }

    @Test
    void aSliceWithAnUnknownAddressTypeIsRejected() {
      EndpointSlice slice = slice().withAddressType("IPX").build();

      assertThatThrownBy(() -> Converters.endpointSlice(slice)).isInstanceOf(ConversionException.class)
          .hasMessageContaining("IPX");
    }

    @Test
    void aSliceWithoutServiceLabelConvertsWithAnEmptyServiceNameForTheModelToReject() {
      EndpointSlice slice = slice().editMetadata().withLabels(Map.of()).endMetadata().build();

      assertThat(Converters.endpointSlice(slice).value().serviceName()).isEmpty();
    }

    private EndpointSliceBuilder slice() {
      return new EndpointSliceBuilder()
          .withNewMetadata().withNamespace("ns").withName("web-abc")
          .withLabels(Map.of(Converters.SERVICE_NAME_LABEL, "web")).endMetadata()
          .withAddressType("IPv4")
          .addNewPort().withName("http").withPort(8080).withAppProtocol("http").endPort();
    }
  }

  @Nested
  class Nodes {

    @Test
    void aNodeCarriesTopologyReadinessAndItsIps() {
      Node node = new NodeBuilder()
          .withNewMetadata().withName("node-a")
          .withLabels(Map.of(Converters.ZONE_LABEL, "eu-1a", Converters.REGION_LABEL, "eu-1")).endMetadata()
          .withNewStatus()
          .addNewCondition().withType("MemoryPressure").withStatus("False").endCondition()
          .addNewCondition().withType("Ready").withStatus("True").endCondition()
          .addNewAddress().withType("InternalIP").withAddress("192.168.0.10").endAddress()
          .addNewAddress().withType("Hostname").withAddress("node-a").endAddress()
          .addNewAddress().withType("ExternalIP").withAddress("2001:db8::0001").endAddress()
          .addNewAddress().withType("InternalIP").withAddress("300.1.1.1").endAddress()
          .endStatus().build();

      Converted<NodeInfo> converted = Converters.node(node);

      assertThat(converted.value()).isEqualTo(new NodeInfo("node-a", Optional.of("eu-1a"), Optional.of("eu-1"), true,
          com.google.common.collect.ImmutableList.of("192.168.0.10", "2001:db8::1")));
      assertThat(converted.problems()).singleElement().asString().contains("300.1.1.1");
    }

    @Test
    void aNodeWithoutStatusIsNotReady() {
      Node node = new NodeBuilder().withNewMetadata().withName("n").endMetadata().build();

      assertThat(Converters.node(node).value().ready()).isFalse();
    }

    @Test
    void aNodeWithoutNameIsRejected() {
      assertThatThrownBy(() -> Converters.node(new NodeBuilder().withNewMetadata().endMetadata().build()))
          .isInstanceOf(ConversionException.class);
    }
  }

  @Nested
  class Namespaces {

    @Test
    void aNamespaceKeepsItsLabels() {
      Namespace namespace = new NamespaceBuilder().withNewMetadata().withName("shop")
          .withLabels(Map.of("nodemesh.io/mesh", "enabled")).endMetadata().build();

      assertThat(Converters.namespace(namespace).value().labels()).containsEntry("nodemesh.io/mesh", "enabled");
    }
  }
}
