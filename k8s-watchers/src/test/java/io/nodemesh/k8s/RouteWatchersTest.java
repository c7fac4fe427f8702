package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.ObjectKey;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** HTTPRoutes and GRPCRoutes through informers into the model, with and without the Gateway API CRDs. */
@EnableKubernetesMockClient(crud = true)
class RouteWatchersTest {

  private static final ObjectKey WEB = ObjectKey.of("shop", "web");
  private static final MeshRoute.Key ROUTE =
      new MeshRoute.Key(MeshRoute.Kind.HTTP_ROUTE, ObjectKey.of("shop", "canary"));

  KubernetesClient client;
  KubernetesMockServer server;
  private WatcherHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) {
      harness.close();
    }
  }

  @Test
  void anHttpRouteCreatedUpdatedAndDeletedReachesTheModelAndNamesItsParentServices() {
    serveGatewayApi(true, true);
    harness = new WatcherHarness(client).awaitSynced();
    assertThat(harness.watchers.watchedKinds()).contains(ResourceKind.HTTP_ROUTE, ResourceKind.GRPC_ROUTE);

    int created = harness.mark();
    client.resources(HTTPRoute.class).inNamespace("shop").resource(httpRoute("canary", "web", "/v1")).create();
    ClusterState state = harness.awaitState(s -> s.routes().containsKey(ROUTE));
    MeshRoute route = state.routes().get(ROUTE);
    assertThat(route.parents()).containsExactly(new MeshRoute.Parent("shop", "web", 80, ""));
    assertThat(route.rules().get(0).matches().get(0).path().value()).isEqualTo("/v1");
    assertThat(harness.changesSince(created).services()).containsExactly(WEB);

    int updated = harness.mark();
    client.resources(HTTPRoute.class).inNamespace("shop").withName("canary")
        .edit(r -> httpRoute("canary", "api", "/v2"));
    harness.awaitState(s -> s.routes().containsKey(ROUTE)
        && s.routes().get(ROUTE).parents().get(0).name().equals("api"));
    assertThat(harness.changesSince(updated).services())
        .as("the old parent loses the route, the new one gains it")
        .containsExactlyInAnyOrder(WEB, ObjectKey.of("shop", "api"));

    int deleted = harness.mark();
    client.resources(HTTPRoute.class).inNamespace("shop").withName("canary").delete();
    harness.awaitState(s -> !s.routes().containsKey(ROUTE));
    assertThat(harness.changesSince(deleted).services()).containsExactly(ObjectKey.of("shop", "api"));
  }

  @Test
  void aGrpcRouteIsWatchedAndARouteOfAGatewayIsNot() {
    serveGatewayApi(true, true);
    client.resources(HTTPRoute.class).inNamespace("shop").resource(new HTTPRouteBuilder()
        .withNewMetadata().withNamespace("shop").withName("edge").endMetadata()
        .withNewSpec().addNewParentRef().withName("public-gateway").endParentRef().endSpec().build()).create();
    client.resources(GRPCRoute.class).inNamespace("shop").resource(new GRPCRouteBuilder()
        .withNewMetadata().withNamespace("shop").withName("echo").endMetadata()
        .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName("echo").endParentRef()
        .addNewRule().addNewMatch().withNewMethod().withService("pkg.Echo").withMethod("Say").endMethod().endMatch()
        .addNewBackendRef().withName("echo").withPort(9090).endBackendRef().endRule().endSpec().build()).create();

    harness = new WatcherHarness(client).awaitSynced();

    ClusterState state = harness.store.synced().join();
    assertThat(state.routes().keySet()).containsExactly(
        new MeshRoute.Key(MeshRoute.Kind.GRPC_ROUTE, ObjectKey.of("shop", "echo")));
    assertThat(state.routes().values().iterator().next().rules().get(0).matches().get(0).path().value())
        .isEqualTo("/pkg.Echo/Say");
  }

  @Test
  void withoutTheGatewayApiTheWatchersSyncAndWatchNoRoutes() {
    // the CRUD mock answers 404 to discovery of gateway.networking.k8s.io: as a cluster without the CRDs
    harness = new WatcherHarness(client).awaitSynced();

    assertThat(harness.watchers.watchedKinds())
        .doesNotContain(ResourceKind.HTTP_ROUTE, ResourceKind.GRPC_ROUTE)
        .contains(ResourceKind.POD, ResourceKind.SERVICE);
    assertThat(harness.watchers.health().kinds()).doesNotContainKey(ResourceKind.HTTP_ROUTE);
    assertThat(harness.state().routes()).isEmpty();
  }

  @Test
  void onlyTheServedRouteKindIsWatched() {
    serveGatewayApi(true, false);
    harness = new WatcherHarness(client).awaitSynced();

    assertThat(harness.watchers.watchedKinds()).contains(ResourceKind.HTTP_ROUTE)
        .doesNotContain(ResourceKind.GRPC_ROUTE);
  }

  @Test
  void aRouteKindWeMayNotListHoldsNothingBackAndIsReported() {
    serveGatewayApi(true, true);
    server.expect().get().withPath("/apis/gateway.networking.k8s.io/v1/httproutes?limit=1")
        .andReturn(403, "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\"}").always();

    harness = new WatcherHarness(client, FAST_ROUTE_DISCOVERY).awaitSynced();

    assertThat(harness.watchers.watchedKinds()).contains(ResourceKind.GRPC_ROUTE, ResourceKind.POD)
        .doesNotContain(ResourceKind.HTTP_ROUTE);
    assertThat(harness.watchers.health().lastError()).hasValueSatisfying(error -> assertThat(error)
        .startsWith("HTTPRoute").contains("403"));
  }

  @Test
  void routeKindsServedAfterTheStartAreWatchedOnceDiscoveryListsThem() {
    harness = new WatcherHarness(client, FAST_ROUTE_DISCOVERY).awaitSynced();
    assertThat(harness.watchers.watchedKinds()).doesNotContain(ResourceKind.HTTP_ROUTE);

    serveGatewayApi(true, true); // the CRDs are installed
    await().atMost(Duration.ofSeconds(10)).until(() -> harness.watchers.watchedKinds().contains(ResourceKind.HTTP_ROUTE));
    client.resources(HTTPRoute.class).inNamespace("shop").resource(httpRoute("canary", "web", "/v1")).create();
    harness.awaitState(s -> s.routes().containsKey(ROUTE));
  }

  /** Looks again for route kinds ten times a second instead of once a minute. */
  private static final WatcherOptions FAST_ROUTE_DISCOVERY =
      WatcherOptions.DEFAULTS.withRouteDiscoveryInterval(Duration.ofMillis(100));

  /** Makes discovery list the route kinds, as an API server with the Gateway API CRDs does. */
  private void serveGatewayApi(boolean http, boolean grpc) {
    serveGatewayApi(server, http, grpc);
  }

  static void serveGatewayApi(KubernetesMockServer server, boolean http, boolean grpc) {
    APIResourceListBuilder list = new APIResourceListBuilder().withGroupVersion("gateway.networking.k8s.io/v1");
    if (http) {
      list.addToResources(new APIResourceBuilder().withName("httproutes").withKind("HTTPRoute").withNamespaced(true)
          .withVerbs("get", "list", "watch", "update", "patch").build());
    }
    if (grpc) {
      list.addToResources(new APIResourceBuilder().withName("grpcroutes").withKind("GRPCRoute").withNamespaced(true)
          .withVerbs("get", "list", "watch", "update", "patch").build());
    }
    server.expect().get().withPath("/apis/gateway.networking.k8s.io/v1").andReturn(200, list.build()).always();
  }

  static HTTPRoute httpRoute(String name, String service, String prefix) {
    return new HTTPRouteBuilder()
        .withNewMetadata().withNamespace("shop").withName(name).endMetadata()
        .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName(service).withPort(80).endParentRef()
        .addNewRule().addNewMatch().withNewPath().withType("PathPrefix").withValue(prefix).endPath().endMatch()
        .addNewBackendRef().withName(service + "-v2").withPort(80).endBackendRef().endRule()
        .endSpec().build();
  }
}
