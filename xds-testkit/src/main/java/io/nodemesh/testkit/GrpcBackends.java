package io.nodemesh.testkit;

import com.google.protobuf.StringValue;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.xds.XdsNameResolverProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/**
 * Real gRPC servers standing for pods (bound on a 127.0.0.x address, the pod's IP; all of 127/8 is local)
 * that answer one unary method with their pod name, and proxyless grpc-java xDS clients that reach them
 * through the control plane ({@code xds:///} targets, per-channel bootstrap).
 */
public final class GrpcBackends {

  /** {@code nodemesh.test.Who/Ask}: answers with the backend's name, so a test sees where an RPC went. */
  public static final MethodDescriptor<StringValue, StringValue> WHO =
      MethodDescriptor.<StringValue, StringValue>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("nodemesh.test.Who/Ask")
          .setRequestMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
          .build();

  private GrpcBackends() {}

  /** Starts a backend named {@code name} on {@code ip:port} (port 0 picks one). */
  public static Server start(String ip, int port, String name) throws IOException {
    return start(ip, port, name, attempt -> false);
  }

  /**
   * Starts a backend that answers UNAVAILABLE to the calls {@code fails} picks (given each call's number, from 1),
   * to test retries.
   */
  public static Server start(String ip, int port, String name, IntPredicate fails) throws IOException {
    AtomicInteger calls = new AtomicInteger();
    ServerServiceDefinition who = ServerServiceDefinition.builder("nodemesh.test.Who")
        .addMethod(WHO, ServerCalls.asyncUnaryCall((request, response) -> {
          if (fails.test(calls.incrementAndGet())) {
            response.onError(Status.UNAVAILABLE.withDescription("this attempt fails").asRuntimeException());
            return;
          }
          response.onNext(StringValue.of(name));
          response.onCompleted();
        }))
        .build();
    return NettyServerBuilder.forAddress(new InetSocketAddress(ip, port)).addService(who).build().start();
  }

  /**
   * A proxyless client channel for {@code xds:///<target>} whose xDS server is the control plane at
   * {@code xdsPort}; {@code nodeId} identifies it in /debug/syncz (no node_name: it is not a node Envoy).
   */
  public static ManagedChannel proxylessChannel(String target, int xdsPort, String nodeId) {
    return proxylessChannel(target, xdsPort, nodeId, Map.of("type", "insecure"));
  }

  /**
   * As {@link #proxylessChannel(String, int, String)}, talking to the control plane with {@code channelCreds} (one
   * entry of the bootstrap's {@code channel_creds}: a type grpc-xds's credentials registry knows, and its config).
   */
  @SuppressWarnings("deprecation") // nameResolverFactory: the per-channel way to hand grpc-xds a bootstrap
  public static ManagedChannel proxylessChannel(String target, int xdsPort, String nodeId, Map<String, ?> channelCreds) {
    Map<String, ?> bootstrap = Map.of(
        "xds_servers", List.of(Map.of(
            "server_uri", "127.0.0.1:" + xdsPort,
            "channel_creds", List.of(channelCreds),
            "server_features", List.of("xds_v3"))),
        "node", Map.of("id", nodeId));
    // NettyChannelBuilder directly: Grpc.newChannelBuilder would pin the global "xds" resolver (and its
    // process-wide bootstrap) before the per-channel factory applies
    return NettyChannelBuilder.forTarget("xds:///" + target, InsecureChannelCredentials.create())
        .nameResolverFactory(XdsNameResolverProvider.createForTest("xds", bootstrap))
        .build();
  }

  /** One RPC; returns the answering backend's name. */
  public static String ask(Channel channel, long deadlineMillis, boolean waitForReady) {
    CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
    if (waitForReady) {
      options = options.withWaitForReady();
    }
    return ClientCalls.blockingUnaryCall(channel, WHO, options, StringValue.of("who are you?")).getValue();
  }
}
