package io.nodemesh.k8s;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A fabric8 CRUD mock API server on loopback whose storage outlives the server (restart it like an API server
 * over etcd), that can expire watches (410 Gone) and write objects without an HTTP round trip each.
 */
final class MockApiServer implements AutoCloseable {

  private final GoneOnceDispatcher dispatcher = new GoneOnceDispatcher();
  private KubernetesMockServer server;
  private KubernetesClient client;
  private int port;

  MockApiServer() {
    start(0);
  }

  /** A client of this server that keeps reconnecting quickly, so restarts are noticed in tests' time. */
  KubernetesClient client() {
    if (client == null) {
      Config config = new ConfigBuilder(Config.empty())
          .withMasterUrl(server.url("/"))
          .withNamespace("test")
          .withHttp2Disable(true)
          .withWatchReconnectInterval(100)
          .withWatchReconnectLimit(-1)
          .withRequestRetryBackoffLimit(0)
          .build();
      client = new KubernetesClientBuilder().withConfig(config).build();
    }
    return client;
  }

  /**
   * Waits until the mock has finished replaying its storage to the pods watch. The mock replays every stored
   * object as ADDED when a watch opens, on its event loop; with thousands of pods a shutdown during the replay
   * times out. A pod written after the replay started is sent after it (the mock's storage iterates in write
   * order and sends through one queue per watch), so seeing it in the model means the replay is done.
   */
  void awaitWatchReplay(WatcherHarness harness) {
    org.awaitility.Awaitility.await().atMost(WatcherHarness.DEADLINE)
        .until(harness.watchers::isApiServerReachable);
    client().pods().inNamespace("default").resource(PodBurstTest.pod("default", 0, 1)).create();
    harness.awaitState(s -> s.pods().containsKey(io.nodemesh.model.ObjectKey.of("default", "pod-0")));
  }

  /** Stops serving; the stored objects stay. */
  void stop() {
    server.destroy();
  }

  /** Serves again on the same port with the same objects. */
  void restart() {
    start(port);
  }

  /** The next watch of that resource plural (e.g. "pods") is accepted and then expired with 410 Gone. */
  void expireNextWatchOf(String plural) {
    dispatcher.goneOnce.add(plural);
  }

  /** Creates an object straight in storage (watchers are notified as usual), skipping the HTTP round trip. */
  void createDirectly(String collectionPath, HasMetadata object) {
    MockResponse response = dispatcher.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.POST, collectionPath,
        Headers.builder().add("Content-Type", "application/json").build(),
        new Buffer().writeUtf8(Serialization.asJson(object))));
    if (response.code() != 201) {
      throw new IllegalStateException("create " + collectionPath + " failed: " + response.code());
    }
  }

  /** Deletes an object straight in storage, e.g. while the server is stopped. */
  void deleteDirectly(String objectPath) {
    dispatcher.handleDelete(objectPath);
  }

  @Override
  public void close() {
    if (client != null) {
      client.close();
    }
    server.destroy();
  }

  private void start(int requestedPort) {
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init(InetAddress.getLoopbackAddress(), requestedPort);
    port = server.getPort();
  }

  /** CRUD storage whose next watch of a listed resource expires at once (410 Gone), as after etcd compaction. */
  private static final class GoneOnceDispatcher extends KubernetesCrudDispatcher {
    final Set<String> goneOnce = ConcurrentHashMap.newKeySet();

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      String path = request.getPath();
      int query = path.indexOf('?');
      if (query > 0 && path.contains("watch=true")) {
        String plural = path.substring(path.lastIndexOf('/', query) + 1, query);
        if (goneOnce.remove(plural)) {
          // a real API server accepts the watch, then sends an ERROR event carrying the 410 status
          return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
            @Override
            public void onOpen(WebSocket webSocket, Response response) {
              webSocket.send("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                  + "\"status\":\"Failure\",\"reason\":\"Expired\",\"message\":\"too old resource version\","
                  + "\"code\":410}}");
            }
          });
        }
      }
      return super.dispatch(request);
    }
  }
}
