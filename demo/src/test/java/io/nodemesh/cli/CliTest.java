package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.SyncStatus;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.demo.DemoExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The operator's CLI against a running demo control plane: the status table of every Envoy, a node's config as
 * tables and as config_dump JSON, a NACK shown where an operator looks, and errors that say what to do.
 */
@SuppressWarnings("unchecked")
class CliTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener";
  @RegisterExtension
  static final DemoExtension DEMO = new DemoExtension();

  /** Exit code, standard output and standard error of one CLI run. */
  private record Run(int exitCode, String out, String err) {
    List<String> lines() {
      return out.lines().toList();
    }
  }

  private static Run cli(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    if (all.stream().noneMatch(arg -> arg.startsWith("--debug-url"))) {
      all.add("--debug-url=http://127.0.0.1:" + DEMO.demo().plane().debugPort());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Cli.run(all.toArray(String[]::new), Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void statusListsEveryDemoEnvoyAsSyncedPerTypeWithTheVersionItHolds() {
    Run status = await().atMost(Duration.ofSeconds(60)).until(() -> cli("status"),
        run -> run.lines().stream().filter(line -> line.startsWith("node-")
            && line.split("SYNCED", -1).length == 5).count() == 3);
    assertThat(status.exitCode()).isZero();
    assertThat(status.lines().get(0).split("\\s{2,}"))
        .containsExactly("NODE", "CLIENT", "KIND", "CDS", "LDS", "EDS", "RDS", "CONNECTED");
    assertThat(status.lines()).anySatisfy(line ->
        assertThat(line).matches("node-a\\s+demo-envoy-node-a\\s+envoy(\\s+SYNCED [0-9a-f]{8}){4}\\s+\\d+s"));

    Run json = cli("status", "-o", "json");
    assertThat(json.exitCode()).isZero();
    assertThat(json.out()).contains("\"clients\"").contains("\"type_url\"");
  }

  @Test
  void aRejectedListenerShowsUnderTheTableWithTheEnvoysMessage() throws Exception {
    ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", DEMO.demo().plane().xdsStarted().get())
        .usePlaintext().build();
    try {
      // an Envoy of node-b that rejects every response holding a frontend pod's listener, and accepts the rest
      StreamObserver<DeltaDiscoveryRequest>[] requests = new StreamObserver[1];
      requests[0] = AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(new StreamObserver<>() {
        @Override
        public void onNext(DeltaDiscoveryResponse response) {
          DeltaDiscoveryRequest.Builder reply = DeltaDiscoveryRequest.newBuilder().setTypeUrl(LISTENER_TYPE)
              .setResponseNonce(response.getNonce());
          if (response.getResourcesList().stream().anyMatch(r -> r.getName().startsWith("pod/demo/frontend-"))) {
            reply.setErrorDetail(Status.newBuilder().setCode(3).setMessage("listener rejected:\nbad\tfilter"));
          }
          synchronized (requests) {
            requests[0].onNext(reply.build());
          }
        }

        @Override
        public void onError(Throwable error) {}

        @Override
        public void onCompleted() {}
      });
      Node node = Node.newBuilder().setId("rejecting-envoy").setMetadata(Struct.newBuilder()
          .putFields("node_name", Value.newBuilder().setStringValue("node-b").build())).build();
      synchronized (requests) {
        requests[0].onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(LISTENER_TYPE).build());
      }

      // NACK isolation finds the rejected listeners and withholds them; the Envoy ACKs the rest, and stays NACKED
      // (it does not have its whole config) with the version it runs
      Run status = await().atMost(Duration.ofSeconds(30)).until(() -> cli("status"),
          run -> run.out().contains("rejecting-envoy LDS withholds") && run.lines().stream().anyMatch(line ->
              line.matches("node-b\\s+rejecting-envoy\\s+envoy\\s+-\\s+NACKED [0-9a-f]{8}\\s+-\\s+-\\s+\\d+s")));
      assertThat(status.lines()).anySatisfy(line -> assertThat(line).matches("rejecting-envoy LDS withholds "
          + "pod/demo/frontend-\\d+/outbound( \\(\\+\\d+ more\\))? after a NACK: listener rejected: bad filter"));
      synchronized (requests) {
        requests[0].onCompleted();
      }
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void aNackedTypeShowsTheVersionTheEnvoyStillRunsAndItsMessage() throws Exception {
    SyncStatus status = SyncStatus.newBuilder().addClients(ClientStatus.newBuilder().setNodeId("envoy-1")
        .setNodeName("worker-1").setKind("envoy")
        .addTypes(TypeStatus.newBuilder().setTypeUrl(LISTENER_TYPE).setState(SyncState.NACKED)
            .setAckedVersion("0123456789abcdef").setSentVersion("fedcba9876543210")
            .setNackError("Error adding/updating listener(s) pod/a/b/outbound: unknown\u0007 filter"))).build();
    String table = StatusView.render(JsonFormat.printer().print(status));
    assertThat(table.lines()).containsExactly(
        "NODE       CLIENT    KIND    CDS   LDS               EDS   RDS   CONNECTED",
        "worker-1   envoy-1   envoy   -     NACKED 01234567   -     -     -",
        "envoy-1 LDS NACK: Error adding/updating listener(s) pod/a/b/outbound: unknown\\u0007 filter");
  }

  @Test
  void configPrintsANodesListenersClustersEndpointsAndRoutesAsTables() {
    Run listeners = await().atMost(Duration.ofSeconds(60)).until(() -> cli("config", "node-a", "--type",
        "listeners"), run -> run.out().contains("pod/demo/"));
    assertThat(listeners.exitCode()).isZero();
    assertThat(listeners.lines().get(0).split("\\s{2,}"))
        .containsExactly("LISTENER", "ADDRESS", "NETWORK NAMESPACE", "FILTER CHAINS", "VERSION");
    // each pod's listener in its network namespace, and the shared service layer's internal listeners
    assertThat(listeners.lines().subList(1, listeners.lines().size())).allSatisfy(line -> assertThat(line).matches(
        "pod/demo/\\S+/outbound\\s+0\\.0\\.0\\.0:15001\\s+/var/run/nodemesh/netns/\\S+\\s+\\d+\\s+[0-9a-f]{8}"
            + "|svc/demo/\\S+\\s+internal\\s+-\\s+\\d+\\s+[0-9a-f]{8}"));
    assertThat(listeners.lines()).anyMatch(line -> line.startsWith("svc/demo/frontend/80 "));

    Run all = cli("config", "node-a");
    assertThat(all.exitCode()).isZero();
    assertThat(all.lines()).filteredOn(line -> line.startsWith("LISTENER ") || line.startsWith("CLUSTER ")
        || line.startsWith("ENDPOINT ") || line.startsWith("ROUTE CONFIG ")).hasSize(4);
    assertThat(all.lines()).anySatisfy(line -> assertThat(line)
        .matches("10\\.244\\.\\d+\\.\\d+:80\\s+zone-[abc]\\s+HEALTHY\\s+svc/demo/frontend/80"));
    assertThat(all.lines()).anySatisfy(line -> assertThat(line).matches("passthrough\\s+ORIGINAL_DST\\s+\\S+"));
  }

  @Test
  void configAsJsonIsTheConfigDumpNarrowedToTheAskedType() throws Exception {
    Run routes = cli("config", "node-a", "--type=routes", "-o", "json");
    assertThat(routes.exitCode()).as(routes.err()).isZero();
    JsonNode dump = MAPPER.readTree(routes.out());
    assertThat(dump.path("configs")).hasSize(1);
    assertThat(dump.path("configs").get(0).path("@type").asText())
        .isEqualTo("type.googleapis.com/envoy.admin.v3.RoutesConfigDump");
    assertThat(dump.path("configs").get(0).path("dynamic_route_configs")).isNotEmpty();
  }

  @Test
  void errorsSayWhatWentWrongAndExitNonZero() {
    Run unknownNode = cli("config", "no-such-node");
    assertThat(unknownNode.exitCode()).isEqualTo(1);
    assertThat(unknownNode.err()).contains("unknown node: no-such-node").doesNotContain("Exception");

    Run badName = cli("config", "../etc");
    assertThat(badName.exitCode()).isEqualTo(2);
    assertThat(badName.err()).contains("'../etc' is not a Kubernetes node name");

    Run badOutput = cli("status", "-o", "yaml");
    assertThat(badOutput.exitCode()).isEqualTo(2);
    assertThat(badOutput.err()).contains("invalid value 'yaml' for --output: expected one of table, json");

    Run nothingThere = cli("status", "--debug-url=http://127.0.0.1:1", "--timeout=2s");
    assertThat(nothingThere.exitCode()).isEqualTo(1);
    assertThat(nothingThere.err()).contains("cannot reach the control plane's debug port at http://127.0.0.1:1")
        .contains("port-forward");

    Run noNode = cli("config");
    assertThat(noNode.exitCode()).isEqualTo(2);
    assertThat(noNode.err()).contains("config needs exactly one node name");

    Run help = cli("status", "--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("--debug-url").contains("NODEMESH_DEBUG_URL").contains("SYNCED");
  }
}
