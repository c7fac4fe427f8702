package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.fabric8.kubernetes.api.model.Event;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.nodemesh.demo.Demo;
import io.nodemesh.demo.DemoPlanes;
import io.nodemesh.xds.ResourceType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The whole application in demo mode: a node Envoy that rejects one pod's listener gets the other listeners,
 * the pod shows the rejected listener as quarantined at /debug/pods (not ACKed), /debug/syncz and /metrics
 * show it, and the pod gets a Kubernetes Event.
 */
class SecurityWiringTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REJECTED = "pod/demo/frontend-1/outbound";

  private final HttpClient http = HttpClient.newHttpClient();

  private JsonNode get(ControlPlane plane, String path) throws Exception {
    HttpResponse<String> response = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + (path.startsWith("/debug") ? plane.debugPort()
            : plane.adminPort()) + path)).build(),
        HttpResponse.BodyHandlers.ofString());
    return path.equals("/metrics") ? JSON.getNodeFactory().textNode(response.body()) : JSON.readTree(response.body());
  }

  @Test
  void anEnvoyRejectingOnePodsListenerShowsItQuarantinedOnThePodAndInAnEvent() throws Exception {
    try (Demo demo = DemoPlanes.start()) {
      ControlPlane plane = demo.plane();
      int port = plane.xdsPort();
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      BlockingQueue<DeltaDiscoveryResponse> responses = new LinkedBlockingQueue<>();
      StreamObserver<DeltaDiscoveryRequest> requests = AggregatedDiscoveryServiceGrpc.newStub(channel)
          .deltaAggregatedResources(new StreamObserver<>() {
            @Override
            public void onNext(DeltaDiscoveryResponse response) {
              responses.add(response);
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      try {
        // node-b holds frontend-1 (demo pods are spread round-robin); a loopback client is trusted by default
        requests.onNext(DeltaDiscoveryRequest.newBuilder()
            .setNode(Node.newBuilder().setId("strict-envoy").setCluster("test").setMetadata(Struct.newBuilder()
                .putFields("node_name", Value.newBuilder().setStringValue("node-b").build())))
            .setTypeUrl(ResourceType.LISTENER.typeUrl())
            .build());
        DeltaDiscoveryResponse response;
        while ((response = responses.poll(2, TimeUnit.SECONDS)) != null) {
          DeltaDiscoveryRequest.Builder answer = DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(response.getTypeUrl()).setResponseNonce(response.getNonce());
          if (response.getResourcesList().stream().map(Resource::getName).anyMatch(REJECTED::equals)) {
            answer.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3)
                .setMessage("listener " + REJECTED + ": rejected by this test"));
          }
          requests.onNext(answer.build());
        }

        JsonNode pod = get(plane, "/debug/pods/demo/frontend-1");
        assertThat(pod.get("acked").asBoolean()).isFalse();
        assertThat(pod.get("quarantined")).singleElement().satisfies(entry -> {
          assertThat(entry.get("name").asText()).isEqualTo(REJECTED);
          assertThat(entry.get("node_id").asText()).isEqualTo("strict-envoy");
          assertThat(entry.get("nack_error").asText()).contains("rejected by this test");
        });
        JsonNode client = null;
        for (JsonNode candidate : get(plane, "/debug/syncz").get("clients")) {
          if (candidate.get("node_id").asText().equals("strict-envoy")) {
            client = candidate;
          }
        }
        assertThat(client).isNotNull();
        assertThat(client.get("authorization").asText()).contains("loopback peer");
        assertThat(client.get("types").get(0).get("state").asText()).isEqualTo("NACKED");
        assertThat(client.get("types").get(0).get("quarantined").get(0).get("name").asText()).isEqualTo(REJECTED);
        assertThat(get(plane, "/metrics").asText())
            .contains("nodemesh_xds_quarantines_total 1.0")
            .contains("nodemesh_xds_quarantined_resources 1.0");

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
          List<Event> events = demo.cluster().client().v1().events().inNamespace("demo").list().getItems();
          assertThat(events).anySatisfy(event -> {
            assertThat(event.getReason()).isEqualTo("XdsResourceRejected");
            assertThat(event.getInvolvedObject().getName()).isEqualTo("frontend-1");
            assertThat(event.getMessage()).contains("strict-envoy").contains(REJECTED);
          });
        });
      } finally {
        requests.onCompleted();
        channel.shutdownNow();
      }
    }
  }
}
