package io.nodemesh.pipeline;

import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.nodemesh.k8s.Change;
import io.nodemesh.k8s.StateUpdate;
import io.nodemesh.model.ClusterState;
import io.nodemesh.testkit.GrpcBackends;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.XdsEventListener;
import io.nodemesh.xds.XdsServer;
import io.nodemesh.xds.XdsServerOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The production translation pipeline and xDS server on a loopback port, fed cluster states directly, with the
 * gRPC servers and grpc-java proxyless channels a test opens: what the grpc-java routing tests share. Closing it
 * closes everything it started.
 */
final class ProxylessPipeline implements AutoCloseable {

  private final ResourceStore store = new ResourceStore();
  private final XdsServer xds;
  private final TranslationPipeline pipeline = new TranslationPipeline(store, TranslatorOptions.DEFAULTS, o -> {});
  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final Server xdsServer;
  private long generation;

  ProxylessPipeline() throws IOException {
    this(XdsServerOptions.DEFAULTS);
  }

  /** With the xDS server's authorization and limits as {@code options} say. */
  ProxylessPipeline(XdsServerOptions options) throws IOException {
    xds = XdsServer.create(store, XdsEventListener.NONE, Clock.systemUTC(), options);
    xdsServer = serve(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(xds.service()).build().start());
  }

  /** Publishes {@code state} as a full change and waits until the pipeline translated it. */
  void publish(ClusterState state) {
    publish(state, Change.full(System.nanoTime()));
  }

  /** Publishes {@code state} with {@code change} (the incremental path) and waits until it was translated. */
  void publish(ClusterState state, Change change) {
    pipeline.accept(new StateUpdate(state, change, ++generation));
    await().atMost(Duration.ofSeconds(10)).until(() -> pipeline.view().state() == state);
  }

  /** Keeps {@code server} (a backend) to shut it down on close. */
  Server serve(Server server) {
    servers.add(server);
    return server;
  }

  /** A proxyless channel to {@code xds:///target}, closed on close. */
  ManagedChannel channel(String target, String nodeId) {
    return keep(GrpcBackends.proxylessChannel(target, xdsServer.getPort(), nodeId));
  }

  /** As {@link #channel(String, String)}, presenting {@code token} to the xDS server (its pod's token). */
  ManagedChannel channel(String target, String nodeId, String token) {
    return keep(GrpcBackends.proxylessChannel(target, xdsServer.getPort(), nodeId,
        BearerTokenXdsCredentials.presenting(token)));
  }

  private ManagedChannel keep(ManagedChannel channel) {
    channels.add(channel);
    return channel;
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    pipeline.close();
    xds.close();
  }
}
