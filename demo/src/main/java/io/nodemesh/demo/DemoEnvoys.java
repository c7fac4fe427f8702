package io.nodemesh.demo;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.nodemesh.testkit.References;
import io.nodemesh.xds.ResourceType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --demo}: one Envoy-like delta ADS client per demo node, over the real xDS port, so a newcomer sees
 * pushes, ACKs and SYNCED clients at {@code /debug/syncz} without installing Envoy. Each subscribes like Envoy
 * (wildcard CDS and LDS, then the endpoints and routes those reference) and ACKs every response.
 */
final class DemoEnvoys implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DemoEnvoys.class);

  private final ManagedChannel channel;
  private final List<Client> clients = new ArrayList<>();

  DemoEnvoys(int xdsPort, List<String> nodes) {
    this.channel = NettyChannelBuilder.forAddress("127.0.0.1", xdsPort).usePlaintext().build();
    for (String node : nodes) {
      clients.add(new Client(node));
    }
  }

  /** One stream; responses arrive serially on it, the lock only guards against the close path. */
  private final class Client implements StreamObserver<DeltaDiscoveryResponse> {
    private final Map<ResourceType, Set<String>> subscribed = new HashMap<>();
    private final Map<String, String> endpointsByCluster = new HashMap<>();
    private final Map<String, Set<String>> routesByListener = new HashMap<>();
    private final StreamObserver<DeltaDiscoveryRequest> requests;

    Client(String node) {
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(this);
      Node identity = Node.newBuilder().setId("demo-envoy-" + node).setCluster("nodemesh-demo")
          .setMetadata(Struct.newBuilder().putFields("node_name", Value.newBuilder().setStringValue(node).build()))
          .build();
      synchronized (this) {
        requests.onNext(DeltaDiscoveryRequest.newBuilder().setNode(identity)
            .setTypeUrl(ResourceType.CLUSTER.typeUrl()).build());
        requests.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ResourceType.LISTENER.typeUrl()).build());
      }
    }

    @Override
    public synchronized void onNext(DeltaDiscoveryResponse response) {
      try {
        for (Resource resource : response.getResourcesList()) {
          if (response.getTypeUrl().equals(ResourceType.CLUSTER.typeUrl())) {
            References.endpointsOf(resource.getResource().unpack(Cluster.class))
                .ifPresent(eds -> endpointsByCluster.put(resource.getName(), eds));
          } else if (response.getTypeUrl().equals(ResourceType.LISTENER.typeUrl())) {
            Set<String> routes = new TreeSet<>();
            References.routesOf(resource.getResource().unpack(Listener.class), routes);
            routesByListener.put(resource.getName(), routes);
          }
        }
      } catch (InvalidProtocolBufferException e) {
        log.warn("demo envoy could not decode a {} response", response.getTypeUrl(), e);
      }
      response.getRemovedResourcesList().forEach(name -> {
        endpointsByCluster.remove(name);
        routesByListener.remove(name);
      });
      requests.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl())
          .setResponseNonce(response.getNonce()).build());
      resubscribe(ResourceType.ENDPOINT, new TreeSet<>(endpointsByCluster.values()));
      Set<String> routes = new TreeSet<>();
      routesByListener.values().forEach(routes::addAll);
      resubscribe(ResourceType.ROUTE, routes);
    }

    private void resubscribe(ResourceType type, Set<String> wanted) {
      Set<String> current = subscribed.getOrDefault(type, Set.of());
      if (current.equals(wanted)) {
        return;
      }
      Set<String> added = new TreeSet<>(wanted);
      added.removeAll(current);
      Set<String> removed = new TreeSet<>(current);
      removed.removeAll(wanted);
      subscribed.put(type, wanted);
      requests.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl())
          .addAllResourceNamesSubscribe(added).addAllResourceNamesUnsubscribe(removed).build());
    }

    @Override
    public void onError(Throwable t) {
      log.debug("demo envoy stream ended: {}", t.toString());
    }

    @Override
    public void onCompleted() {}

    synchronized void close() {
      try {
        requests.onCompleted();
      } catch (RuntimeException ignored) {
        // the server already closed the stream
      }
    }
  }

  @Override
  public void close() {
    clients.forEach(Client::close);
    channel.shutdown();
    try {
      channel.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
