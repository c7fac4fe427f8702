package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.collect.ImmutableList;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class RouteStatusWriterTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final String OTHER_CONTROLLER = "example.com/gateway-controller";

  KubernetesClient client;
  private final List<RouteStatusWriter> writers = new ArrayList<>();

  @AfterEach
  void close() {
    writers.forEach(RouteStatusWriter::close);
  }

  @Test
  void anAcceptedRouteAndARouteNamingAMissingServiceGetTheirConditions() {
    HTTPRoute good = httpRoute("good", "web", 3);
    create(good);
    create(httpRoute("orphan", "missing", 1));
    RouteStatusWriter writer = writer("a");
    awaitLeader(writer);

    writer.accept(update(state(good, httpRoute("orphan", "missing", 1))));

    RouteParentStatus accepted = awaitOurEntry("good");
    assertThat(accepted.getParentRef().getKind()).isEqualTo("Service");
    assertThat(accepted.getParentRef().getGroup()).isEmpty();
    assertThat(accepted.getParentRef().getNamespace()).isEqualTo("shop");
    assertThat(accepted.getParentRef().getName()).isEqualTo("web");
    assertThat(accepted.getParentRef().getPort()).isEqualTo(80);
    assertThat(condition(accepted, "Accepted").getStatus()).isEqualTo("True");
    assertThat(condition(accepted, "Accepted").getObservedGeneration()).isEqualTo(3);
    assertThat(condition(accepted, "ResolvedRefs").getStatus()).isEqualTo("True");
    assertThat(condition(accepted, "Accepted").getLastTransitionTime()).isNotEmpty();

    RouteParentStatus orphan = awaitOurEntry("orphan");
    assertThat(condition(orphan, "Accepted").getStatus()).isEqualTo("False");
    assertThat(condition(orphan, "Accepted").getReason()).isEqualTo("NoMatchingParent");
    assertThat(writer.written()).isEqualTo(2);
  }

  @Test
  void anotherControllersEntrySurvivesAndAnUnchangedStatusIsNotWrittenAgain() {
    RouteParentStatus gateways = new RouteParentStatusBuilder().withControllerName(OTHER_CONTROLLER)
        .withNewParentRef().withName("edge").endParentRef()
        .withConditions(new ConditionBuilder().withType("Accepted").withStatus("True").withReason("Accepted")
            .withMessage("by the edge").withLastTransitionTime("2024-01-01T00:00:00Z").withObservedGeneration(1L)
            .build())
        .build();
    HTTPRoute route = create(httpRoute("shared", "web", 1));
    route.setStatus(new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteStatus());
    route.getStatus().setParents(new ArrayList<>(List.of(gateways)));
    client.resources(HTTPRoute.class).inNamespace("shop").resource(route).updateStatus();
    RouteStatusWriter writer = writer("a");
    awaitLeader(writer);

    ClusterState state = state(route);
    writer.accept(update(state));
    RouteParentStatus ours = awaitOurEntry("shared");

    List<RouteParentStatus> parents = read("shared").getStatus().getParents();
    assertThat(parents).hasSize(2).contains(gateways);
    long writes = writer.written();
    String since = condition(ours, "Accepted").getLastTransitionTime();

    writer.accept(update(state)); // the same state again: nothing to write
    writer.accept(update(state(new HTTPRouteBuilder(route).editMetadata().withGeneration(2L).endMetadata().build())));
    await().atMost(DEADLINE).until(() ->
        condition(ourEntry(read("shared")).orElseThrow(), "Accepted").getObservedGeneration() == 2);
    RouteParentStatus updated = ourEntry(read("shared")).orElseThrow();
    assertThat(condition(updated, "Accepted").getLastTransitionTime()).as("same status and reason").isEqualTo(since);
    assertThat(writer.written()).isEqualTo(writes + 1);
    assertThat(read("shared").getStatus().getParents()).contains(gateways);
  }

  @Test
  void ourEntryForAParentNoLongerNamedIsRemoved() {
    HTTPRoute route = create(httpRoute("moving", "web", 1));
    RouteStatusWriter writer = writer("a");
    awaitLeader(writer);
    writer.accept(update(state(route)));
    awaitOurEntry("moving");

    writer.accept(update(state())); // the route left the model (deleted from the mesh, or now only a Gateway's)

    await().atMost(DEADLINE).until(() -> ourEntry(read("moving")).isEmpty());
  }

  @Test
  void aRouteThatLeftTheModelWhileNobodyLedLosesOurEntryOnceTheNextLeaderHasAState() {
    HTTPRoute orphan = create(httpRoute("orphan", "web", 1));
    HTTPRoute kept = create(httpRoute("kept", "web", 1));
    RouteStatusWriter first = writer("a");
    awaitLeader(first);
    first.accept(update(state(orphan, kept)));
    awaitOurEntry("orphan");
    awaitOurEntry("kept");
    first.close();

    // meanwhile "orphan" dropped its Service parent: the next leader's model no longer has it
    RouteStatusWriter next = writer("b");
    awaitLeader(next);
    assertThat(next.written()).as("no state yet: nothing is removed").isZero();
    next.accept(update(state(kept)));

    await().atMost(DEADLINE).until(() -> ourEntry(read("orphan")).isEmpty());
    await().atMost(DEADLINE).until(() -> next.unchanged() == 1);
    assertThat(next.written()).as("only the orphan's entry went; the kept route's was right").isEqualTo(1);
    assertThat(ourEntry(read("kept"))).isPresent();
  }

  @Test
  void grpcRoutesGetTheirStatusToo() {
    GRPCRoute route = client.resources(GRPCRoute.class).inNamespace("shop").resource(new GRPCRouteBuilder()
        .withNewMetadata().withNamespace("shop").withName("echo").withGeneration(1L).endMetadata()
        .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName("web").endParentRef()
        .addNewRule().addNewBackendRef().withName("web").withPort(80).endBackendRef().endRule().endSpec().build())
        .create();
    RouteStatusWriter writer = writer("a");
    awaitLeader(writer);

    writer.accept(update(stateOf(RouteConverters.grpcRoute(route).value())));

    await().atMost(DEADLINE).until(() -> {
      GRPCRoute read = client.resources(GRPCRoute.class).inNamespace("shop").withName("echo").get();
      return read.getStatus() != null && read.getStatus().getParents() != null
          && read.getStatus().getParents().stream()
          .anyMatch(p -> RouteResolution.CONTROLLER_NAME.equals(p.getControllerName()));
    });
  }

  @Test
  void onlyTheLeaderWritesAndWhenItClosesTheOtherTakesOver() {
    HTTPRoute first = create(httpRoute("first", "web", 1));
    RouteStatusWriter a = writer("a");
    RouteStatusWriter b = writer("b");
    await().atMost(DEADLINE).until(() -> a.isLeader() || b.isLeader());
    RouteStatusWriter leading = a.isLeader() ? a : b;
    RouteStatusWriter waiting = leading == a ? b : a;
    assertThat(waiting.isLeader()).isFalse();

    ClusterState one = state(first);
    a.accept(update(one));
    b.accept(update(one));
    awaitOurEntry("first");
    assertThat(leading.written()).isEqualTo(1);
    assertThat(waiting.written()).isZero();
    assertThat(waiting.unchanged()).isZero();

    leading.close();
    await().atMost(DEADLINE).until(waiting::isLeader);
    Lease lease = client.leases().inNamespace("nodemesh-system").withName("route-status-test").get();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(waiting == a ? "a" : "b");

    HTTPRoute second = create(httpRoute("second", "web", 1));
    waiting.accept(update(state(first, second)));
    awaitOurEntry("second");
    assertThat(waiting.written()).as("only the new route: the first one's status was already right").isEqualTo(1);
    assertThat(waiting.unchanged()).isEqualTo(1);
  }

  // ---- helpers ----

  private RouteStatusWriter writer(String identity) {
    RouteStatusWriter writer = RouteStatusWriter.start(client,
        state -> RouteResolution.statuses(state, port -> true),
        RouteStatusOptions.of("nodemesh-system", "route-status-test", identity)
            .withTimings(Duration.ofSeconds(3), Duration.ofSeconds(2), Duration.ofMillis(200)));
    writers.add(writer);
    return writer;
  }

  private static void awaitLeader(RouteStatusWriter writer) {
    await().atMost(DEADLINE).until(writer::isLeader);
  }

  private HTTPRoute create(HTTPRoute route) {
    return client.resources(HTTPRoute.class).inNamespace("shop").resource(route).create();
  }

  private HTTPRoute read(String name) {
    return client.resources(HTTPRoute.class).inNamespace("shop").withName(name).get();
  }

  private RouteParentStatus awaitOurEntry(String name) {
    await().atMost(DEADLINE).until(() -> ourEntry(read(name)).isPresent());
    return ourEntry(read(name)).orElseThrow();
  }

  private static Optional<RouteParentStatus> ourEntry(HTTPRoute route) {
    if (route.getStatus() == null || route.getStatus().getParents() == null) {
      return Optional.empty();
    }
    return route.getStatus().getParents().stream()
        .filter(p -> RouteResolution.CONTROLLER_NAME.equals(p.getControllerName())).findFirst();
  }

  private static Condition condition(RouteParentStatus entry, String type) {
    return entry.getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElseThrow();
  }

  private static StateUpdate update(ClusterState state) {
    return new StateUpdate(state, Change.full(0), 1);
  }

  /** The model with Service shop/web (HTTP port 80) and these routes, as the store would hold them. */
  private static ClusterState state(HTTPRoute... routes) {
    List<MeshRoute> converted = new ArrayList<>();
    for (HTTPRoute route : routes) {
      converted.add(RouteConverters.httpRoute(route).value());
    }
    return stateOf(converted.toArray(MeshRoute[]::new));
  }

  private static ClusterState stateOf(MeshRoute... routes) {
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS).putService(new ServiceInfo("shop", "web",
        ImmutableList.of("10.96.0.10"), ImmutableList.of(new ServicePort("http", 80, "8080",
            io.nodemesh.model.Protocol.TCP, Optional.of("http"))), null));
    for (MeshRoute route : routes) {
      builder.putRoute(route);
    }
    return builder.build();
  }

  private static HTTPRoute httpRoute(String name, String service, long generation) {
    return new HTTPRouteBuilder()
        .withNewMetadata().withNamespace("shop").withName(name).withGeneration(generation).endMetadata()
        .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName(service).withPort(80).endParentRef()
        .addNewRule().addNewBackendRef().withName("web").withPort(80).endBackendRef().endRule()
        .endSpec().build();
  }
}
