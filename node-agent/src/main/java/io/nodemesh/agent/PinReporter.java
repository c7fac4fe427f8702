package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.common.net.HostAndPort;
import com.google.common.net.InetAddresses;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.nodemesh.api.agent.NodePinsRpc;
import io.nodemesh.api.agent.v1.EnvoyListeners;
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.api.agent.v1.PinReport;
import io.nodemesh.api.agent.v1.PinReportReply;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the node's pins to every control plane replica ({@link NodePinsRpc}) and merges their answers into what
 * the node's Envoys hold. The address is a name that resolves to every replica (a headless Service), looked
 * up on each report, so replicas that come and go are followed. Reports go one at a time (the agent's report
 * thread sends the next after the previous answered; the control plane takes one report per node at a time).
 */
final class PinReporter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PinReporter.class);
  private static final long DEADLINE_MILLIS = 3_000;
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final int MAX_TOKEN_BYTES = 16 * 1024;

  private final HostAndPort address;
  private final String nodeName;
  private final String agentId;
  private final String tokenFile;
  /** Null: plaintext. */
  private final SslContext tls;
  private final String serverName;
  /** Null: the kernel picks the source address. */
  private final InetAddress source;
  private final Map<InetSocketAddress, ManagedChannel> channels = new HashMap<>();

  /**
   * @param tls the TLS files (CA bundle, optional client certificate and key), or null for plaintext
   * @param serverName the name the server certificate must be valid for (replicas are dialled by IP)
   * @param sourceAddress the local IP reports leave from, or empty
   */
  PinReporter(HostAndPort address, String nodeName, String agentId, String tokenFile, TlsFiles tlsFiles,
      String serverName, String sourceAddress) {
    this.address = address;
    this.nodeName = nodeName;
    this.agentId = agentId;
    this.tokenFile = tokenFile;
    this.serverName = serverName.isEmpty() ? address.getHost() : serverName;
    this.source = sourceAddress.isEmpty() ? null : InetAddresses.forString(sourceAddress);
    try {
      if (tlsFiles == null) {
        this.tls = null;
      } else {
        SslContextBuilder builder = GrpcSslContexts.forClient().trustManager(new File(tlsFiles.caFile()));
        if (!tlsFiles.certFile().isEmpty()) {
          builder.keyManager(new File(tlsFiles.certFile()), new File(tlsFiles.keyFile()));
        }
        this.tls = builder.build();
      }
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot read the control plane TLS files " + tlsFiles + ": " + e.getMessage(),
          e);
    }
  }

  /** PEM files for TLS to the control plane; cert and key empty for server-side TLS only. */
  record TlsFiles(String caFile, String certFile, String keyFile) {}

  /** What the node's Envoys hold of the reported pods' listeners, as the replicas that answered say. */
  record Holdings(int replicasAnswered, ImmutableList<String> failures,
      ImmutableMap<String, ImmutableList<EnvoyListeners>> streamsByEnvoy) {

    /**
     * Every Envoy of the node (at least one) holds the pod's listener: ACKed on one of its streams (an Envoy that
     * reconnected may still have its old stream open for a while).
     */
    boolean everyEnvoyHolds(String podUid) {
      return !streamsByEnvoy.isEmpty() && streamsByEnvoy.values().stream()
          .allMatch(streams -> streams.stream().anyMatch(s -> s.getPresentPodUidsList().contains(podUid)));
    }

    /** No Envoy of the node holds the pod's listener or is about to receive it (true when none is connected). */
    boolean noEnvoyHolds(String podUid) {
      return streamsByEnvoy.values().stream()
          .allMatch(streams -> streams.stream().allMatch(s -> s.getAbsentPodUidsList().contains(podUid)));
    }

    /** A report every replica refused or missed: nothing is known about the Envoys. */
    boolean unknown() {
      return replicasAnswered == 0;
    }

    /** The Envoys that do not (yet) hold the pod's listener, for messages. */
    ImmutableSet<String> envoysWithout(String podUid) {
      ImmutableSet.Builder<String> without = ImmutableSet.builder();
      streamsByEnvoy.forEach((envoy, streams) -> {
        if (streams.stream().noneMatch(s -> s.getPresentPodUidsList().contains(podUid))) {
          without.add(envoy);
        }
      });
      return without.build();
    }
  }

  /** Reports {@code pins} to every replica; completes with what they answered (never exceptionally). */
  synchronized CompletableFuture<Holdings> report(List<Pin> pins) {
    PinReport report = PinReport.newBuilder().setNodeName(nodeName).setAgentId(agentId).addAllPins(pins).build();
    List<InetSocketAddress> replicas;
    try {
      replicas = resolve();
    } catch (UnknownHostException e) {
      return CompletableFuture.completedFuture(
          new Holdings(0, ImmutableList.of("cannot resolve " + address.getHost() + ": " + e.getMessage()),
              ImmutableMap.of()));
    }
    Metadata headers = new Metadata();
    token().ifPresent(token -> headers.put(AUTHORIZATION, "Bearer " + token));
    List<CompletableFuture<Object>> answers = new ArrayList<>();
    for (InetSocketAddress replica : replicas) {
      CompletableFuture<Object> answer = new CompletableFuture<>();
      answers.add(answer);
      ManagedChannel channel = channels.computeIfAbsent(replica, this::channel);
      try {
        Channel withToken = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
        ListenableFuture<PinReportReply> future = ClientCalls.futureUnaryCall(
            withToken.newCall(NodePinsRpc.REPORT,
                CallOptions.DEFAULT.withDeadlineAfter(DEADLINE_MILLIS, TimeUnit.MILLISECONDS)),
            report);
        future.addListener(() -> {
          try {
            answer.complete(future.get());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer.complete(replica.getAddress().getHostAddress() + ": interrupted");
          } catch (ExecutionException e) {
            answer.complete(replica.getAddress().getHostAddress() + ": " + e.getCause().getMessage());
          }
        }, Runnable::run);
      } catch (RuntimeException e) {
        answer.complete(replica.getAddress().getHostAddress() + ": " + e.getMessage());
      }
    }
    return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).thenApply(ignored -> {
      int answered = 0;
      ImmutableList.Builder<String> failures = ImmutableList.builder();
      Map<String, List<EnvoyListeners>> byEnvoy = new HashMap<>();
      for (CompletableFuture<Object> answer : answers) {
        Object result = answer.join();
        if (result instanceof PinReportReply reply) {
          answered++;
          reply.getEnvoysList().forEach(envoy ->
              byEnvoy.computeIfAbsent(envoy.getEnvoyId(), id -> new ArrayList<>()).add(envoy));
        } else {
          failures.add((String) result);
        }
      }
      ImmutableMap.Builder<String, ImmutableList<EnvoyListeners>> streams = ImmutableMap.builder();
      byEnvoy.forEach((envoy, list) -> streams.put(envoy, ImmutableList.copyOf(list)));
      return new Holdings(answered, failures.build(), streams.build());
    });
  }

  private ManagedChannel channel(InetSocketAddress replica) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(replica);
    if (source != null) {
      builder.localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
        @Override
        public SocketAddress createSocketAddress(SocketAddress remoteAddress, Attributes attrs) {
          return new InetSocketAddress(source, 0);
        }
      });
    }
    if (tls == null) {
      return builder.usePlaintext().build();
    }
    return builder.sslContext(tls).overrideAuthority(serverName).build();
  }

  private List<InetSocketAddress> resolve() throws UnknownHostException {
    Set<InetSocketAddress> replicas = new HashSet<>();
    for (InetAddress ip : InetAddress.getAllByName(address.getHost())) {
      replicas.add(new InetSocketAddress(ip, address.getPort()));
    }
    // replicas that left: their channels go
    channels.entrySet().removeIf(entry -> {
      if (!replicas.contains(entry.getKey())) {
        entry.getValue().shutdownNow();
        return true;
      }
      return false;
    });
    return List.copyOf(replicas);
  }

  /** The bearer token, re-read on every report (the kubelet rotates projected tokens). */
  private Optional<String> token() {
    if (tokenFile.isEmpty()) {
      return Optional.empty();
    }
    try {
      byte[] bytes = Files.readAllBytes(Path.of(tokenFile));
      String token = new String(bytes, 0, Math.min(bytes.length, MAX_TOKEN_BYTES), StandardCharsets.US_ASCII).trim();
      return token.isEmpty() ? Optional.empty() : Optional.of(token);
    } catch (IOException e) {
      log.warn("cannot read --control-plane-token-file {}: {}", tokenFile, e.toString());
      return Optional.empty();
    }
  }

  @Override
  public synchronized void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
