package io.nodemesh.xds;

import com.google.common.net.InetAddresses;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.nodemesh.api.agent.NodePinsRpc;
import io.nodemesh.api.agent.v1.EnvoyListeners;
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.api.agent.v1.PinReport;
import io.nodemesh.api.agent.v1.PinReportReply;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's side channel on the xDS port (issue 16), {@code /nodemesh.agent.v1.NodePins/Report}: an agent
 * reports every pin of its node (CNI ADD pinned the pod's network namespace, or DEL is releasing it) and learns
 * which of those pods' listeners each Envoy of the node connected to this replica has ACKed or dropped. The
 * caller is authorized exactly as an xDS client (peer address of the node, or a bearer token), and the report
 * is applied to the node it was authorized for, never the one it claims. Every field is checked; one report
 * per node is handled at a time. Thread-safe.
 */
public final class NodePinService {

  private static final Logger log = LoggerFactory.getLogger(NodePinService.class);
  private static final int MAX_IPS = 8;
  private static final Pattern UID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
  /** How long the streams of a node get to say what they hold before the answer goes without them. */
  private static final long STREAM_ANSWER_MILLIS = 2_000;

  /** Where accepted reports go (the cluster model), with the pins as checked here. */
  @FunctionalInterface
  public interface Sink {
    void report(String node, List<Pin> pins);
  }

  private final StreamContext context;
  /** The authorized streams of a node: the Envoys whose listeners a report asks about. */
  private final Function<String, List<AdsStream<?, ?>>> streamsOfNode;
  private final Sink sink;
  private final Function<Pin, String> listenerName;
  private final Set<String> nodesInFlight = ConcurrentHashMap.newKeySet();
  private final LogThrottle refusalLog = new LogThrottle(XdsTunables.LIMIT_LOG_INTERVAL_MILLIS);

  /**
   * @param listenerName the name of the outbound listener a pinned pod gets (the translator's naming)
   */
  NodePinService(StreamContext context, Function<String, List<AdsStream<?, ?>>> streamsOfNode, Sink sink,
      Function<Pin, String> listenerName) {
    this.context = context;
    this.streamsOfNode = streamsOfNode;
    this.sink = sink;
    this.listenerName = listenerName;
  }

  ServerServiceDefinition definition() {
    return ServerServiceDefinition.builder(NodePinsRpc.SERVICE)
        .addMethod(NodePinsRpc.REPORT, ServerCalls.asyncUnaryCall(this::report))
        .build();
  }

  private void report(PinReport report, StreamObserver<PinReportReply> reply) {
    NodeIdentity claimed = new NodeIdentity(report.getAgentId(), report.getNodeName(), true);
    String invalid = report.getAgentId().isEmpty() || report.getNodeName().isEmpty()
        ? "agent_id and node_name are required" : NodeIdentity.invalidity(claimed);
    if (invalid != null) {
      refuse(reply, Status.INVALID_ARGUMENT, "invalid", invalid, report);
      return;
    }
    ClientConnection connection = XdsServer.connection();
    ClientCredentials credentials = new ClientCredentials(claimed, connection.remote(), connection.bearerToken());
    CompletableFuture<Authorization> decision;
    try {
      decision = context.options().authorizer().authorize(credentials);
    } catch (RuntimeException e) {
      decision = CompletableFuture.failedFuture(e);
    }
    decision.whenComplete((authorization, error) -> {
      if (error != null || authorization == null) {
        refuse(reply, Status.UNAVAILABLE, "error", "authorization could not be checked", report);
      } else if (authorization.denied()) {
        refuse(reply, Status.fromCode(authorization.code()), authorization.label(), authorization.reason(), report);
      } else if (authorization.verdict() != Authorization.Verdict.NODE) {
        refuse(reply, Status.PERMISSION_DENIED, "no_node", "a node agent must be authorized for its node", report);
      } else {
        accept(authorization.viewNode(), report, reply);
      }
    });
  }

  private void accept(String node, PinReport report, StreamObserver<PinReportReply> reply) {
    String problem = problem(report.getPinsList());
    if (problem != null) {
      refuse(reply, Status.INVALID_ARGUMENT, "invalid", problem, report);
      return;
    }
    if (!nodesInFlight.add(node)) {
      refuse(reply, Status.RESOURCE_EXHAUSTED, "concurrent", "a report for node " + node + " is in progress", report);
      return;
    }
    try {
      sink.report(node, report.getPinsList());
    } catch (RuntimeException e) {
      nodesInFlight.remove(node);
      log.warn("pin report of node {} could not be applied", node, e);
      reply.onError(Status.INTERNAL.withDescription("the report could not be applied").asRuntimeException());
      return;
    }
    context.metrics().pinReport("accepted");
    Map<String, String> uidByListener = new HashMap<>();
    for (Pin pin : report.getPinsList()) {
      uidByListener.put(listenerName.apply(pin), pin.getPodUid());
    }
    List<AdsStream<?, ?>> streams = streamsOfNode.apply(node);
    List<CompletableFuture<EnvoyListeners>> answers = new ArrayList<>();
    for (AdsStream<?, ?> stream : streams) {
      answers.add(stream.listenerAcks(uidByListener.keySet())
          .orTimeout(STREAM_ANSWER_MILLIS, TimeUnit.MILLISECONDS)
          .thenApply(acks -> EnvoyListeners.newBuilder()
              .setEnvoyId(stream.nodeId())
              .setStreamId(Long.toString(stream.id))
              .addAllPresentPodUids(uids(acks.present(), uidByListener))
              .addAllAbsentPodUids(uids(acks.absent(), uidByListener))
              .build())
          .exceptionally(e -> EnvoyListeners.newBuilder()
              .setEnvoyId(stream.nodeId())
              .setStreamId(Long.toString(stream.id))
              .build()));
    }
    CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).whenComplete((ignored, error) -> {
      nodesInFlight.remove(node);
      PinReportReply.Builder answer = PinReportReply.newBuilder();
      answers.forEach(future -> answer.addEnvoys(future.join()));
      reply.onNext(answer.build());
      reply.onCompleted();
    });
  }

  private static List<String> uids(Set<String> listeners, Map<String, String> uidByListener) {
    return listeners.stream().map(uidByListener::get).sorted().toList();
  }

  /** Why a report cannot be taken, or null: every field an agent sends is checked before anything is kept. */
  static String problem(List<Pin> pins) {
    if (pins.size() > NodePinsRpc.MAX_PINS) {
      return pins.size() + " pins, more than the limit of " + NodePinsRpc.MAX_PINS;
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < pins.size(); i++) {
      Pin pin = pins.get(i);
      String where = "pins[" + i + "]";
      if (!UID.matcher(pin.getPodUid()).matches()) {
        return where + ".pod_uid is not a lower-case UUID";
      }
      if (!seen.add(pin.getPodUid())) {
        return where + ".pod_uid is reported twice";
      }
      if (!DNS_LABEL.matcher(pin.getNamespace()).matches()) {
        return where + ".namespace is not a DNS label";
      }
      if (!DNS_SUBDOMAIN.matcher(pin.getName()).matches()) {
        return where + ".name is not a DNS subdomain";
      }
      if (pin.getIpsCount() > MAX_IPS) {
        return where + " has " + pin.getIpsCount() + " IPs, more than " + MAX_IPS;
      }
      for (String ip : pin.getIpsList()) {
        if (!InetAddresses.isInetAddress(ip)) {
          return where + ".ips holds something that is not an IP address";
        }
      }
    }
    return null;
  }

  private void refuse(StreamObserver<PinReportReply> reply, Status status, String label, String reason,
      PinReport report) {
    context.metrics().pinReport(label);
    long suppressed = refusalLog.admit();
    if (suppressed >= 0) {
      log.warn("pin report refused ({}): agent={} claimedNode={} reason={}{}", status.getCode(),
          SafeText.of(report.getAgentId(), 256), SafeText.of(report.getNodeName(), 256), SafeText.of(reason, 1024),
          LogThrottle.suppressedNote(suppressed));
    }
    reply.onError(status.withDescription(reason).asRuntimeException());
  }
}
