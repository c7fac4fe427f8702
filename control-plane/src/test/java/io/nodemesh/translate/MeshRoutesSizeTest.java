package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.RouteResolution;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What mesh routes cost at the benchmark's catalogue (1,000 services x 3 ports, 30 pods on the node): 100 Services
 * get an HTTPRoute (a header canary and a 90/10 split with retries) on their HTTP port. Bytes and times are
 * printed for docs/ROUTING.md, never asserted; what the layout must be is.
 */
class MeshRoutesSizeTest {

  private static final int SERVICES = 1000;
  private static final int ROUTED = 100;
  private static final TranslatorOptions OPTIONS =
      TranslatorOptions.DEFAULTS.withServiceCidrs(ImmutableList.of("10.96.0.0/16"));

  @Test
  void routesCostBytesOnlyInTheirPortsRouteConfigs() {
    ClusterState plain = SyntheticCluster.build(4, 30, SERVICES);
    ClusterState.Builder routed = plain.toBuilder();
    for (int i = 0; i < ROUTED; i++) {
      routed.putRoute(route(i));
    }
    ClusterState withRoutes = routed.build();

    SharedResources before = SharedResources.translate(plain, OPTIONS);
    SharedResources after = SharedResources.translate(withRoutes, OPTIONS);
    NodeResources nodeBefore = NodeTranslator.translate(plain, "node-1", OPTIONS, before);
    NodeResources nodeAfter = NodeTranslator.translate(withRoutes, "node-1", OPTIONS, after);

    long changedRoutes = after.routes().entrySet().stream()
        .filter(e -> !e.getValue().equals(before.routes().get(e.getKey()))).count();
    assertThat(changedRoutes).isEqualTo(ROUTED);
    assertThat(nodeAfter.clusters().keySet()).isEqualTo(nodeBefore.clusters().keySet());
    assertThat(nodeAfter.listeners()).isEqualTo(nodeBefore.listeners());

    RouteConfiguration defaultRoute = before.routes().get("svc/apps/svc-0/80");
    RouteConfiguration meshRoute = after.routes().get("svc/apps/svc-0/80");
    System.out.printf("[routes] route config of a port: default %,d B, with the HTTPRoute %,d B%n",
        Any.pack(defaultRoute).getSerializedSize(), Any.pack(meshRoute).getSerializedSize());
    System.out.printf("[routes] node config (30 pods, %,d services, %d routed): %,d B -> %,d B%n", SERVICES, ROUTED,
        total(nodeBefore), total(nodeAfter));
    for (int warmUp = 0; warmUp < 3; warmUp++) {
      SharedResources.translate(plain, OPTIONS);
      SharedResources.translate(withRoutes, OPTIONS);
    }
    System.out.printf("[routes] translate the catalogue: %,d ms without routes, %,d ms with (median of 5, warm)%n",
        medianMillis(() -> SharedResources.translate(plain, OPTIONS)),
        medianMillis(() -> SharedResources.translate(withRoutes, OPTIONS)));
    System.out.printf("[routes] every route's status: %,d ms (median of 5)%n",
        medianMillis(() -> RouteResolution.statuses(withRoutes, PortProtocol::carriesHttp)));
  }

  private static MeshRoute route(int i) {
    String service = "svc-" + i;
    MeshRoute.Match canary = new MeshRoute.Match(null,
        ImmutableList.of(new MeshRoute.ValueMatch("x-canary", MeshRoute.MatchType.EXACT, "yes")), "", null);
    return new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "apps", service, 1, 0,
        ImmutableList.of(new MeshRoute.Parent("apps", service, 80, "")),
        ImmutableList.of(
            new MeshRoute.Rule(ImmutableList.of(canary), null, ImmutableList.of(backend(i + 1, 1)), null, null, null),
            new MeshRoute.Rule(ImmutableList.of(), null, ImmutableList.of(backend(i, 90), backend(i + 2, 10)),
                java.time.Duration.ofSeconds(10), null,
                new MeshRoute.Retry(3, ImmutableList.of(503), java.time.Duration.ofMillis(50)))),
        null);
  }

  private static MeshRoute.Backend backend(int service, int weight) {
    return new MeshRoute.Backend("", "Service", "apps", "svc-" + service, 80, weight);
  }

  private static long total(NodeResources node) {
    return bytes(node.listeners()) + bytes(node.clusters()) + bytes(node.endpoints()) + bytes(node.routes());
  }

  private static long bytes(Map<String, ? extends Message> resources) {
    return resources.values().stream().mapToLong(r -> Any.pack(r).getSerializedSize()).sum();
  }

  private static long medianMillis(Runnable work) {
    long[] runs = new long[5];
    for (int i = 0; i < runs.length; i++) {
      long start = System.nanoTime();
      work.run();
      runs[i] = (System.nanoTime() - start) / 1_000_000;
    }
    Arrays.sort(runs);
    return runs[runs.length / 2];
  }
}
