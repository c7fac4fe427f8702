package io.nodemesh.e2e;

import static io.nodemesh.e2e.MockKubernetes.servicePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.nodemesh.testkit.GrpcBackends;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole chain of mesh routing with real peers: a GRPCRoute written to the (mock) API server is watched,
 * translated and served by the control plane process, grpc-java's xDS client splits real RPCs between two
 * Services' gRPC servers as the route says, the route's status is written back, and deleting the route
 * restores the Service's default route.
 */
class MeshRoutesIT {

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final String NAMESPACE = "shop";
  private static final int SERVICE_PORT = 8080;
  private static final String TARGET = "greeter." + NAMESPACE + ".svc.cluster.local:" + SERVICE_PORT;
  private static final int RPCS = 1_000;

  private static MockKubernetes k8s;
  private static ControlPlaneProcess plane;
  private static Server stable;
  private static Server canary;

  @BeforeAll
  static void start() throws Exception {
    k8s = MockKubernetes.withTwoNodes(NAMESPACE).withGatewayApi();
    stable = GrpcBackends.start("127.0.0.41", 0, "stable");
    canary = GrpcBackends.start("127.0.0.42", 0, "canary");
    k8s.service(NAMESPACE, "greeter", "10.96.4.10", List.of(servicePort("grpc", SERVICE_PORT, stable.getPort(), "grpc")));
    k8s.service(NAMESPACE, "greeter-canary", "10.96.4.11",
        List.of(servicePort("grpc", SERVICE_PORT, canary.getPort(), "grpc")));
    k8s.endpoints(NAMESPACE, "greeter", "grpc", stable.getPort(), "127.0.0.41");
    k8s.endpoints(NAMESPACE, "greeter-canary", "grpc", canary.getPort(), "127.0.0.42");
    plane = ControlPlaneProcess.start("mesh-routes", k8s.url()).awaitReady(STARTUP);
  }

  @AfterAll
  static void stop() throws Exception {
    for (Server server : new Server[] {stable, canary}) {
      if (server != null) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    if (plane != null) {
      plane.close();
    }
    if (k8s != null) {
      k8s.close();
    }
  }

  @Test
  void aGrpcRouteFromTheApiServerSplitsRealRpcsAndGetsItsStatus() throws Exception {
    ManagedChannel channel = GrpcBackends.proxylessChannel(TARGET, plane.xdsPort(), "mesh-routes-client");
    try {
      assertThat(GrpcBackends.ask(channel, 20_000, true)).isEqualTo("stable");

      long created = System.nanoTime();
      k8s.client().resource(split(80, 20)).create();
      await().atMost(Duration.ofSeconds(20)).until(() -> GrpcBackends.ask(channel, 5_000, false).equals("canary"));
      System.out.printf("[mesh-routes] GRPCRoute created -> first RPC on the canary: %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - created));

      Map<String, Integer> answers = new TreeMap<>();
      for (int i = 0; i < RPCS; i++) {
        answers.merge(GrpcBackends.ask(channel, 5_000, false), 1, Integer::sum);
      }
      double stableShare = answers.getOrDefault("stable", 0) * 100.0 / RPCS;
      System.out.printf("[mesh-routes] 80/20 GRPCRoute from the API server, %d RPCs: %s (stable %.1f %%)%n", RPCS,
          answers, stableShare);
      assertThat(stableShare).isBetween(75.0, 85.0);

      await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        GRPCRoute route = k8s.client().resources(GRPCRoute.class).inNamespace(NAMESPACE).withName("greeter").get();
        assertThat(route.getStatus()).isNotNull();
        List<RouteParentStatus> parents = route.getStatus().getParents();
        assertThat(parents).singleElement().satisfies(parent -> {
          assertThat(parent.getControllerName()).isEqualTo("nodemesh.io/mesh-controller");
          assertThat(parent.getParentRef().getName()).isEqualTo("greeter");
          assertThat(parent.getConditions()).extracting(Condition::getType, Condition::getStatus)
              .contains(org.assertj.core.groups.Tuple.tuple("Accepted", "True"),
                  org.assertj.core.groups.Tuple.tuple("ResolvedRefs", "True"));
        });
      });

      long deleted = System.nanoTime();
      k8s.client().resources(GRPCRoute.class).inNamespace(NAMESPACE).withName("greeter").delete();
      await().atMost(Duration.ofSeconds(20)).until(() -> {
        for (int i = 0; i < 50; i++) {
          if (!GrpcBackends.ask(channel, 5_000, false).equals("stable")) {
            return false;
          }
        }
        return true;
      });
      System.out.printf("[mesh-routes] GRPCRoute deleted -> 50 RPCs in a row on the Service's own endpoints: %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - deleted));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static GRPCRoute split(int stableWeight, int canaryWeight) {
    return new GRPCRouteBuilder()
        .withNewMetadata().withNamespace(NAMESPACE).withName("greeter").endMetadata()
        .withNewSpec()
            .addNewParentRef().withGroup("").withKind("Service").withName("greeter").withPort(SERVICE_PORT).endParentRef()
            .addNewRule()
                .addNewBackendRef().withName("greeter").withPort(SERVICE_PORT).withWeight(stableWeight).endBackendRef()
                .addNewBackendRef().withName("greeter-canary").withPort(SERVICE_PORT).withWeight(canaryWeight)
                    .endBackendRef()
            .endRule()
        .endSpec()
        .build();
  }
}
