package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.k8s.RouteConverters;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The Gateway API's own conformance manifests for the mesh profile (test resources {@code gateway-api-conformance/},
 * see its README) through the production path: fabric8's model, {@link RouteConverters}, the model, the translator.
 * Each is accepted with every reference resolved, and its Envoy routes say what the conformance suite checks.
 */
class ConformanceManifestsTest {

  private static final String NAMESPACE = "gateway-conformance-mesh";

  @Test
  void grpcWeightsSplitSeventyThirty() throws IOException {
    RouteConfiguration routes = translate("grpcroute-weight.yaml", "svc/" + NAMESPACE + "/echo/7070");
    WeightedCluster split = routes.getVirtualHosts(0).getRoutes(0).getRoute().getWeightedClusters();
    assertThat(split.getClustersList()).extracting(c -> c.getName(), c -> c.getWeight().getValue())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("svc/" + NAMESPACE + "/echo-v1/7070", 70),
            org.assertj.core.groups.Tuple.tuple("svc/" + NAMESPACE + "/echo-v2/7070", 30));
  }

  @Test
  void grpcMirrorsCopyToTheMirrorBackendAndModifyHeaders() throws IOException {
    RouteConfiguration routes = translate("grpcroute-request-mirror.yaml", "svc/" + NAMESPACE + "/echo/7070");
    assertThat(routes.getVirtualHosts(0).getRoutesList()).hasSize(2).allSatisfy(route -> {
      assertThat(route.getRoute().getCluster()).isEqualTo("svc/" + NAMESPACE + "/echo-v1/7070");
      assertThat(route.getRoute().getRequestMirrorPoliciesList()).singleElement()
          .satisfies(mirror -> assertThat(mirror.getCluster()).isEqualTo("svc/" + NAMESPACE + "/echo-v2/7070"));
    });
    Route modified = routes.getVirtualHosts(0).getRoutesList().stream()
        .filter(route -> route.getRequestHeadersToRemoveCount() > 0).findFirst().orElseThrow();
    assertThat(modified.getRequestHeadersToAddList()).extracting(h -> h.getHeader().getKey())
        .containsExactly("x-header-set", "x-header-add", "x-header-add-append");
    assertThat(modified.getRequestHeadersToRemoveList()).containsExactly("x-header-remove");
  }

  @Test
  void redirectsCarryThePortHostAndEveryStatusCode() throws IOException {
    RouteConfiguration routes = translate("httproute-redirect-port.yaml", "svc/" + NAMESPACE + "/echo/80");
    assertThat(routes.getVirtualHosts(0).getRoutesList()).allSatisfy(route ->
        assertThat(route.getRedirect().getPortRedirect()).isEqualTo(8083));
    assertThat(routes.getVirtualHosts(0).getRoutesList()).extracting(route -> route.getRedirect().getResponseCode())
        .contains(RedirectAction.RedirectResponseCode.MOVED_PERMANENTLY, RedirectAction.RedirectResponseCode.FOUND,
            RedirectAction.RedirectResponseCode.TEMPORARY_REDIRECT,
            RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT);

    RouteConfiguration seeOther =
        translate("httproute-303-redirect-host-and-status.yaml", "svc/" + NAMESPACE + "/echo/80");
    assertThat(seeOther.getVirtualHosts(0).getRoutesList()).isNotEmpty().allSatisfy(route -> {
      assertThat(route.getRedirect().getResponseCode()).isEqualTo(RedirectAction.RedirectResponseCode.SEE_OTHER);
      assertThat(route.getRedirect().getHostRedirect()).isEqualTo("example.org");
    });
  }

  /** Reads, converts and translates one manifest; returns the route config of {@code port}, checked valid. */
  private static RouteConfiguration translate(String manifest, String port) throws IOException {
    MeshRoute route;
    try (InputStream in = ConformanceManifestsTest.class.getResourceAsStream("/gateway-api-conformance/" + manifest)) {
      HasMetadata object = Serialization.unmarshal(in);
      route = object instanceof GRPCRoute grpc ? RouteConverters.grpcRoute(grpc).value()
          : RouteConverters.httpRoute((HTTPRoute) object).value();
    }
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS);
    List.of("echo", "echo-v1", "echo-v2").forEach(name -> builder.putService(service(name)));
    ClusterState state = builder.putRoute(route).build();
    assertThat(state.routes().get(route.key()).rejected()).as(manifest).isNull();
    RouteResolution.statuses(state, PortProtocol::carriesHttp).get(route.key()).forEach(parent ->
        assertThat(parent.conditions()).as(manifest).allSatisfy(condition -> assertThat(condition.status())
            .as(condition.type() + ": " + condition.message()).isEqualTo(!condition.type().equals("PartiallyInvalid"))));
    SharedResources shared = SharedResources.translate(state, TranslatorOptions.DEFAULTS);
    RouteConfiguration routes = shared.routes().get(port);
    assertThat(EnvoyValidator.violations(routes)).as(manifest).isEmpty();
    return routes;
  }

  private static ServiceInfo service(String name) {
    int octet = 10 + List.of("echo", "echo-v1", "echo-v2").indexOf(name);
    return new ServiceInfo(NAMESPACE, name, ImmutableList.of("10.96.7." + octet), ImmutableList.of(
        new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty()),
        new ServicePort("grpc", 7070, "7070", Protocol.TCP, Optional.of("grpc"))), null);
  }
}
