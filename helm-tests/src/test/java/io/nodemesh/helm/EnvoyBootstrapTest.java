package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.overload.v3.OverloadAction;
import io.envoyproxy.envoy.config.overload.v3.ResourceMonitor;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig;
import io.envoyproxy.envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.api.envoy.EnvoyValidator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The bootstrap each node Envoy runs with (ConfigMap file plus the node identity merged in from
 * {@code --config-yaml}) parses into Envoy's {@link Bootstrap} proto, passes Envoy's PGV rules including every
 * typed_config, and says what the chart promises.
 */
class EnvoyBootstrapTest {

  static final String POD_NAME = "nodemesh-envoy-x7k2p";
  static final String NODE_NAME = "worker-3.example.internal";

  private final Manifests defaults = HelmChart.template().render();
  private final Bootstrap bootstrap = effective(defaults);

  @ParameterizedTest(name = "values {0}")
  @ValueSource(strings = {"", "sotw", "everything", "custom-images", "tuned-control-plane", "host-network", "tls"})
  void bootstrapParsesIntoTheEnvoyProtoAndPassesEnvoyValidation(String valuesFile) {
    HelmChart chart = HelmChart.template();
    if (!valuesFile.isEmpty()) {
      chart.values(valuesFile);
    }

    Bootstrap effective = effective(chart.render());

    assertThat(EnvoyValidator.violations(effective)).isEmpty();
    assertThat(effective.getStaticResources().getClustersList()).extracting(Cluster::getName)
        .containsExactly("nodemesh-xds", "envoy-admin");
  }

  @Test
  void nodeIdIsThePodNameAndNodeNameIsTheKubernetesNode() {
    assertThat(bootstrap.getNode().getId()).isEqualTo(POD_NAME);
    assertThat(bootstrap.getNode().getCluster()).as("ADS needs node.cluster as well as node.id").isNotEmpty();
    assertThat(bootstrap.getNode().getMetadata().getFieldsMap())
        .containsExactly(Map.entry("node_name", Value.newBuilder().setStringValue(NODE_NAME).build()));
  }

  @Test
  void theFileAloneCarriesNoNodeIdentity() {
    Bootstrap file = EnvoyBootstrap.parse(defaults.one(ConfigMap.class).getData().get("bootstrap.yaml"));

    assertThat(file.getNode().getId()).isEmpty();
    assertThat(file.getNode().hasMetadata()).isFalse();
  }

  @Test
  void listenersAndClustersComeFromDeltaAdsByDefault() {
    ApiConfigSource ads = bootstrap.getDynamicResources().getAdsConfig();

    assertThat(ads.getApiType()).isEqualTo(ApiConfigSource.ApiType.DELTA_GRPC);
    assertThat(ads.getTransportApiVersion().name()).isEqualTo("V3");
    assertThat(ads.getGrpcServicesList()).singleElement().satisfies(service -> {
      assertThat(service.getEnvoyGrpc().getClusterName()).isEqualTo("nodemesh-xds");
      assertThat(service.getEnvoyGrpc().getMaxReceiveMessageLength().getValue()).isEqualTo(4194304);
    });
    for (ConfigSource source : List.of(bootstrap.getDynamicResources().getLdsConfig(),
        bootstrap.getDynamicResources().getCdsConfig())) {
      assertThat(source.hasAds()).isTrue();
      assertThat(source.getResourceApiVersion().name()).isEqualTo("V3");
      assertThat(source.getInitialFetchTimeout()).as("wait for the control plane before reporting ready")
          .isEqualTo(Duration.getDefaultInstance());
    }
  }

  @Test
  void sotwModeSwitchesAdsToStateOfTheWorldGrpc() {
    Bootstrap sotw = effective(HelmChart.template().values("sotw").render());

    assertThat(sotw.getDynamicResources().getAdsConfig().getApiType()).isEqualTo(ApiConfigSource.ApiType.GRPC);
  }

  @Test
  void adsClusterReachesTheControlPlaneServiceOverHttp2WithKeepalives() throws InvalidProtocolBufferException {
    Cluster xds = cluster(bootstrap, "nodemesh-xds");

    SocketAddress address = xds.getLoadAssignment().getEndpoints(0).getLbEndpoints(0).getEndpoint().getAddress()
        .getSocketAddress();
    assertThat(address.getAddress()).isEqualTo("nodemesh-control-plane.nodemesh-system.svc.cluster.local");
    assertThat(address.getPortValue()).isEqualTo(15010);
    assertThat(xds.getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);

    HttpProtocolOptions options = xds.getTypedExtensionProtocolOptionsOrThrow(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions").unpack(HttpProtocolOptions.class);
    var http2 = options.getExplicitHttpConfig().getHttp2ProtocolOptions();
    assertThat(options.getExplicitHttpConfig().hasHttp2ProtocolOptions()).isTrue();
    assertThat(http2.getConnectionKeepalive().getInterval().getSeconds()).isEqualTo(30);
    assertThat(http2.getConnectionKeepalive().getTimeout().getSeconds()).isEqualTo(5);
    var tcp = xds.getUpstreamConnectionOptions().getTcpKeepalive();
    assertThat(List.of(tcp.getKeepaliveTime().getValue(), tcp.getKeepaliveInterval().getValue(),
        tcp.getKeepaliveProbes().getValue())).containsExactly(60, 10, 3);
  }

  @Test
  void withTlsTheAdsClusterVerifiesTheControlPlaneNameAgainstTheMountedCaAndPresentsTheClientCertificate()
      throws InvalidProtocolBufferException {
    Bootstrap tls = effective(HelmChart.template().values("tls").render());
    Cluster xds = cluster(tls, "nodemesh-xds");
    String controlPlane = "nodemesh-control-plane.nodemesh-system.svc.cluster.local";

    assertThat(xds.getTransportSocket().getName()).isEqualTo("envoy.transport_sockets.tls");
    UpstreamTlsContext context = xds.getTransportSocket().getTypedConfig().unpack(UpstreamTlsContext.class);
    assertThat(context.getSni()).isEqualTo(controlPlane);
    assertThat(context.getCommonTlsContext().getAlpnProtocolsList()).as("grpc-java's TLS server needs h2")
        .containsExactly("h2");
    var validation = context.getCommonTlsContext().getValidationContext();
    assertThat(validation.getTrustedCa().getFilename()).isEqualTo("/etc/nodemesh/xds-tls/ca/ca.crt");
    assertThat(validation.getMatchTypedSubjectAltNamesList()).singleElement().satisfies(san -> {
      assertThat(san.getSanType().name()).isEqualTo("DNS");
      assertThat(san.getMatcher().getExact()).isEqualTo(controlPlane);
    });
    assertThat(context.getCommonTlsContext().getTlsCertificatesList()).singleElement().satisfies(certificate -> {
      assertThat(certificate.getCertificateChain().getFilename()).isEqualTo("/etc/nodemesh/xds-tls/client/tls.crt");
      assertThat(certificate.getPrivateKey().getFilename()).isEqualTo("/etc/nodemesh/xds-tls/client/tls.key");
    });
    assertThat(EnvoyValidator.violations(tls)).isEmpty();

    Bootstrap serverOnly =
        effective(HelmChart.template().values("tls").set("xdsTls.clientAuth.enabled", false).render());
    assertThat(cluster(serverOnly, "nodemesh-xds").getTransportSocket().getTypedConfig()
        .unpack(UpstreamTlsContext.class).getCommonTlsContext().getTlsCertificatesList()).isEmpty();
    assertThat(bootstrap.getStaticResources().getClusters(0).hasTransportSocket()).as("plaintext by default").isFalse();
  }

  @Test
  void adsFollowsTheControlPlanePortAndMessageSize() {
    Bootstrap tuned = effective(HelmChart.template().values("tuned-control-plane").render());

    assertThat(cluster(tuned, "nodemesh-xds").getLoadAssignment().getEndpoints(0).getLbEndpoints(0).getEndpoint()
        .getAddress().getSocketAddress().getPortValue()).isEqualTo(16010);
    assertThat(tuned.getDynamicResources().getAdsConfig().getGrpcServices(0).getEnvoyGrpc()
        .getMaxReceiveMessageLength().getValue()).isEqualTo(16777216);
  }

  @Test
  void adminListensOnLoopbackOnly() {
    SocketAddress admin = bootstrap.getAdmin().getAddress().getSocketAddress();

    assertThat(admin.getAddress()).isEqualTo("127.0.0.1");
    assertThat(admin.getPortValue()).isEqualTo(15000);
    assertThat(cluster(bootstrap, "envoy-admin").getLoadAssignment().getEndpoints(0).getLbEndpoints(0)
        .getEndpoint().getAddress().getSocketAddress()).isEqualTo(admin);
  }

  @Test
  void statusListenerForwardsOnlyReadyAndPrometheusStatsToTheAdminApi() {
    Listener status = bootstrap.getStaticResources().getListeners(0);

    assertThat(status.getAddress().getSocketAddress().getPortValue()).isEqualTo(15021);
    assertThat(status.getEnableReusePort().getValue()).isTrue();
    assertThat(routedPaths(status)).containsExactly(
        Map.entry("/ready", "envoy-admin"), Map.entry("/stats/prometheus", "envoy-admin"));

    Bootstrap withoutStats = effective(HelmChart.template().set("envoy.exposeStats", false).render());
    assertThat(routedPaths(withoutStats.getStaticResources().getListeners(0)))
        .containsExactly(Map.entry("/ready", "envoy-admin"));
  }

  @Test
  void overloadManagerCapsDownstreamConnectionsAndHeap() throws InvalidProtocolBufferException {
    var overload = effective(HelmChart.template()
        .set("envoy.overload.maxDownstreamConnections", 20000)
        .set("envoy.overload.maxHeapSizeBytes", 1073741824)
        .render()).getOverloadManager();
    Map<String, ResourceMonitor> monitors = overload.getResourceMonitorsList().stream()
        .collect(Collectors.toMap(ResourceMonitor::getName, monitor -> monitor));

    assertThat(monitors.get("envoy.resource_monitors.global_downstream_max_connections").getTypedConfig()
        .unpack(DownstreamConnectionsConfig.class).getMaxActiveDownstreamConnections()).isEqualTo(20000);
    assertThat(monitors.get("envoy.resource_monitors.fixed_heap").getTypedConfig()
        .unpack(FixedHeapConfig.class).getMaxHeapSizeBytes()).isEqualTo(1073741824L);
    assertThat(overload.getActionsList().subList(0, 2))
        .extracting(OverloadAction::getName, action -> action.getTriggers(0).getName(),
            action -> action.getTriggers(0).getThreshold().getValue())
        .containsExactly(
            tuple("envoy.overload_actions.shrink_heap", "envoy.resource_monitors.fixed_heap", 0.95),
            tuple("envoy.overload_actions.stop_accepting_requests", "envoy.resource_monitors.fixed_heap", 0.98));
    OverloadAction reset = overload.getActions(2);
    assertThat(reset.getName()).isEqualTo("envoy.overload_actions.reset_high_memory_stream");
    assertThat(reset.getTriggers(0).getName()).isEqualTo("envoy.resource_monitors.fixed_heap");
    assertThat(reset.getTriggers(0).getScaled().getScalingThreshold()).isEqualTo(0.85);
    assertThat(reset.getTriggers(0).getScaled().getSaturationThreshold()).isEqualTo(0.95);
    assertThat(overload.getBufferFactoryConfig().getMinimumAccountToTrackPowerOfTwo())
        .as("reset_high_memory_stream resets only tracked streams: tracking must be on").isEqualTo(20);
    assertThat(overload.getLoadshedPointsList())
        .extracting(point -> point.getName(), point -> point.getTriggers(0).getThreshold().getValue())
        .containsExactly(tuple("envoy.load_shed_points.tcp_listener_accept", 0.97));
    assertThat(overload.getActionsCount()).isEqualTo(3);
    assertThat(bootstrap.getAdmin().getIgnoreGlobalConnLimit()).as("admin stays reachable at the limit").isTrue();
  }

  @Test
  void everyBootstrapListenerAndClusterBuffersAtMost32KiBPerConnection() {
    assertThat(bootstrap.getStaticResources().getListenersList())
        .allSatisfy(listener -> assertThat(listener.getPerConnectionBufferLimitBytes().getValue()).isEqualTo(32768));
    assertThat(bootstrap.getStaticResources().getClustersList())
        .allSatisfy(cluster -> assertThat(cluster.getPerConnectionBufferLimitBytes().getValue()).isEqualTo(32768));
  }

  @ParameterizedTest(name = "values {0}")
  @ValueSource(strings = {"", "everything"})
  void bootstrapUsesNoDeprecatedEnvoyField(String valuesFile) {
    HelmChart chart = HelmChart.template();
    if (!valuesFile.isEmpty()) {
      chart.values(valuesFile);
    }

    assertThat(deprecatedFields(effective(chart.render()), "bootstrap")).isEmpty();
  }

  /** The effective bootstrap of the Envoy container in these manifests, for {@link #POD_NAME} on {@link #NODE_NAME}. */
  static Bootstrap effective(Manifests manifests) {
    return EnvoyBootstrap.effective(
        manifests.one(ConfigMap.class),
        EnvoyDaemonSetTest.envoy(manifests),
        Map.of("metadata.name", POD_NAME, "spec.nodeName", NODE_NAME));
  }

  /** Exact paths of a listener's inline HTTP routes, mapped to the cluster they go to. */
  static Map<String, String> routedPaths(Listener listener) {
    Map<String, String> paths = new LinkedHashMap<>();
    try {
      HttpConnectionManager manager = listener.getFilterChains(0).getFilters(0).getTypedConfig()
          .unpack(HttpConnectionManager.class);
      for (var host : manager.getRouteConfig().getVirtualHostsList()) {
        for (Route route : host.getRoutesList()) {
          paths.put(route.getMatch().getPath(), route.getRoute().getCluster());
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return paths;
  }

  /** Paths of every set field (or enum value) marked deprecated, looking inside every Any as well. */
  private static List<String> deprecatedFields(Message message, String path) {
    List<String> found = new ArrayList<>();
    if (message instanceof Any any) {
      try {
        return deprecatedFields(EnvoyTypes.unpack(any), path + "<" + any.getTypeUrl() + ">");
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }
    for (Map.Entry<FieldDescriptor, Object> field : message.getAllFields().entrySet()) {
      FieldDescriptor descriptor = field.getKey();
      String fieldPath = path + "." + descriptor.getName();
      if (descriptor.getOptions().getDeprecated()) {
        found.add(fieldPath);
      }
      List<?> values = descriptor.isRepeated() ? (List<?>) field.getValue() : List.of(field.getValue());
      for (Object value : values) {
        if (value instanceof Message child) {
          found.addAll(deprecatedFields(child, fieldPath));
        } else if (value instanceof EnumValueDescriptor enumValue && enumValue.getOptions().getDeprecated()) {
          found.add(fieldPath + "=" + enumValue.getName());
        }
      }
    }
    return found;
  }

  private static Cluster cluster(Bootstrap bootstrap, String name) {
    return bootstrap.getStaticResources().getClustersList().stream()
        .filter(cluster -> cluster.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }
}
