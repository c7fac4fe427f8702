package io.nodemesh.e2e;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * fabric8's CRUD dispatcher, plus one thing a restarted API server does: the first watch per resource path
 * after {@link #expireWatches} ends with an ERROR event carrying 410 Gone, as a watch from a resourceVersion
 * older than the new watch cache does; informers then relist (and see deletions they missed). A plain HTTP
 * 410 on the watch request would not do: fabric8 retries that as a connection failure.
 */
public class RestartableCrudDispatcher extends KubernetesCrudDispatcher {
  /** What discovery of gateway.networking.k8s.io/v1 answers, as an API server with the CRDs installed. */
  private static final String GATEWAY_API_RESOURCES = "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\","
      + "\"groupVersion\":\"gateway.networking.k8s.io/v1\",\"resources\":["
      + "{\"name\":\"httproutes\",\"singularName\":\"httproute\",\"namespaced\":true,\"kind\":\"HTTPRoute\","
      + "\"verbs\":[\"get\",\"list\",\"watch\",\"create\",\"update\",\"patch\",\"delete\"]},"
      + "{\"name\":\"grpcroutes\",\"singularName\":\"grpcroute\",\"namespaced\":true,\"kind\":\"GRPCRoute\","
      + "\"verbs\":[\"get\",\"list\",\"watch\",\"create\",\"update\",\"patch\",\"delete\"]}]}";

  private final Set<String> expiredPaths = ConcurrentHashMap.newKeySet();
  private volatile boolean expired;
  private volatile boolean gatewayApi;

  public RestartableCrudDispatcher() {
    super(List.of());
  }

  /** From now on discovery lists HTTPRoute and GRPCRoute, as it does once the Gateway API CRDs are installed. */
  public void serveGatewayApi() {
    gatewayApi = true;
  }

  @Override
  public MockResponse handleGet(String path) {
    if (gatewayApi && "/apis/gateway.networking.k8s.io/v1".equals(path)) {
      return new MockResponse().setResponseCode(200).setBody(GATEWAY_API_RESOURCES);
    }
    return super.handleGet(path);
  }

  /** From now on, the first watch per resource path is answered with 410 Gone. */
  public void expireWatches() {
    expiredPaths.clear();
    expired = true;
  }

  @Override
  public MockResponse handleWatch(String path) {
    String resource = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
    if (expired && expiredPaths.add(resource)) {
      // what the API server sends: the watch opens, then an ERROR event carrying a 410 Status
      return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
        @Override
        public void onOpen(WebSocket socket, Response response) {
          socket.send("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
              + "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version\","
              + "\"reason\":\"Expired\",\"code\":410}}");
          socket.close(1000, "watch expired");
        }
      });
    }
    return super.handleWatch(path);
  }
}
