package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.nodemesh.admin.SyncStatusMessages;
import io.nodemesh.api.admin.v1.ClientStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An ADS server on a real TCP port on 127.0.0.1, so streams have real peer addresses: clients can connect
 * from any 127.0.0.x (all of 127/8 is local on Linux) to play different nodes and pods.
 */
public final class LoopbackXdsServer implements AutoCloseable {

  public final ResourceStore store = new ResourceStore();
  public final XdsServer xds;
  public final Server server;
  private final List<ManagedChannel> channels = new ArrayList<>();

  public LoopbackXdsServer(XdsServerOptions options) {
    this(options, XdsEventListener.NONE, 4 * 1024 * 1024, null);
  }

  public LoopbackXdsServer(
      XdsServerOptions options, XdsEventListener listener, int maxRequestBytes, ServerCredentials credentials) {
    xds = XdsServer.create(store, listener, Clock.systemUTC(), options);
    InetSocketAddress address = new InetSocketAddress("127.0.0.1", 0);
    NettyServerBuilder builder = credentials == null
        ? NettyServerBuilder.forAddress(address)
        : NettyServerBuilder.forAddress(address, credentials);
    try {
      server = builder
          .addService(xds.service())
          .addStreamTracerFactory(xds.streamTracer())
          .maxInboundMessageSize(maxRequestBytes)
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return server.getPort();
  }

  /** A plaintext channel whose connections leave from {@code localIp} (a 127.0.0.x address). */
  public ManagedChannel channelFrom(String localIp) {
    return channelFrom(localIp, null);
  }

  /** As {@link #channelFrom(String)}, sending {@code authorization: Bearer <token>} on every call. */
  public ManagedChannel channelFrom(String localIp, String bearerToken) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port())
        .usePlaintext()
        .localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
          @Override
          public java.net.SocketAddress createSocketAddress(
              java.net.SocketAddress remote, io.grpc.Attributes attrs) {
            return new InetSocketAddress(localIp, 0);
          }
        });
    if (bearerToken != null) {
      Metadata headers = new Metadata();
      headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + bearerToken);
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    ManagedChannel channel = builder.build();
    channels.add(channel);
    return channel;
  }

  /** Applies a batch and waits for it (bounded). */
  public ApplyResult apply(UpdateBatch batch) {
    try {
      return store.apply(batch).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException | ExecutionException | TimeoutException e) {
      throw new AssertionError("batch did not apply", e);
    }
  }

  /** Every stream's status as the admin API shows it. */
  public List<ClientStatus> clients() {
    return SyncStatusMessages.of(xds.clients()).getClientsList();
  }

  @Override
  public void close() {
    channels.forEach(ManagedChannel::shutdownNow);
    server.shutdownNow();
    try {
      assertThat(server.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    xds.close();
  }
}
