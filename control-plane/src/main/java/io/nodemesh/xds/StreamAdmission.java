package io.nodemesh.xds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import io.nodemesh.xds.XdsMetrics.BadRequest;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * Who a stream serves and how much it may ask: the first request's node, the authorizer's verdict (TokenReview may
 * answer later), the first-request deadline, the request rate, which names may be subscribed and the stream's share
 * of the per-stream and per-address budgets. Refusals come back as a {@link Refusal} the stream ends with.
 * Confined to the stream's executor; {@link #identity()} and the status fields are volatile for other threads.
 */
final class StreamAdmission {

  /** Logged under the stream's logger: operators (and tests) find a stream's whole story in one place. */
  private static final Logger log = AdsStream.log;

  /** Why a stream ends: the status its client gets and the reason logged as the stream closes. */
  record Refusal(Status status, String closeReason) {}

  private final StreamContext context;
  private final long streamId;
  private final XdsProtocol protocol;
  private final String peer;
  /** The connection's remote address and bearer token; the token is dropped once it was handed to the authorizer. */
  private ClientCredentials presented;
  /** The stream's share of the server's limits (streams, name bytes per address); released when it closes. */
  private final XdsServer.Slot slot;
  private final RequestRateLimiter rateLimiter;
  /** Warnings a client can trigger on every request are logged this often at most (shared with the stream). */
  private final LogThrottle badRequestLog;
  /** Bytes (as charged to the per-address budget) and count of explicitly subscribed names, per type. */
  private final long[] nameBytes = new long[ResourceType.all().length];
  private final int[] nameCounts = new int[ResourceType.all().length];
  private long throttledSinceLogNanos;
  private boolean loggedPrivateName;
  private boolean loggedSharedWildcard;
  /** The authorization under way, cancelled if the stream closes first (a queued TokenReview is dropped). */
  private CompletableFuture<Authorization> pendingAuthorization;
  /** The first-request deadline; cancelled once the stream is authorized or closed, so it pins nothing. */
  private volatile ScheduledFuture<?> firstRequestTimer;
  private volatile NodeIdentity identity;
  /** The node the client claimed (its view is identity.nodeName() once authorized, "" for none). */
  private volatile String claimedNode = "";
  /** How the client was authorized, for the admin status. */
  private volatile String authorization = "";

  StreamAdmission(StreamContext context, long streamId, XdsProtocol protocol, ClientConnection connection,
      XdsServer.Slot slot, LogThrottle badRequestLog) {
    this.context = context;
    this.streamId = streamId;
    this.protocol = protocol;
    this.presented = new ClientCredentials(null, connection.remote(), connection.bearerToken());
    this.peer = presented.peerText();
    this.slot = slot;
    this.badRequestLog = badRequestLog;
    XdsServerOptions options = context.options();
    this.rateLimiter = options.requestsPerSecond() > 0
        ? new RequestRateLimiter(options.requestsPerSecond(), options.requestBurst(), System::nanoTime)
        : null;
  }

  /** Starts the first-request deadline, if any: {@code onExpiry} runs on the timer thread. */
  void armFirstRequestDeadline(Runnable onExpiry) {
    long deadline = context.options().firstRequestTimeoutMillis();
    if (deadline > 0) {
      firstRequestTimer = context.schedule(onExpiry, deadline * 1_000_000);
    }
  }

  /**
   * The deadline passed: a stream not authorized by now (no first request, or an authorization still pending) is
   * refused, since an idle connection must not hold a stream slot and a stalled TokenReview must not pin it
   * forever. Null when the stream was authorized in time.
   */
  Refusal firstRequestDeadlinePassed() {
    if (identity != null) {
      return null;
    }
    context.metrics().limited(XdsMetrics.Limit.FIRST_REQUEST_DEADLINE);
    String message = "no authorized first request within " + context.options().firstRequestTimeoutMillis()
        + " ms (--xds-first-request-timeout)";
    long suppressed = context.limitLog().admit();
    if (suppressed >= 0) {
      log.warn("stream={} peer={} {}; closing the stream{}", streamId, peer, message,
          LogThrottle.suppressedNote(suppressed));
    }
    return new Refusal(Status.DEADLINE_EXCEEDED.withDescription(message), "first request deadline");
  }

  /**
   * Authorizes the client on its first request. {@code onVerdict} gets null once the stream is identified, or the
   * refusal it ends with: at once when the authorizer answers at once, else later on {@code streamExecutor}, unless
   * the stream is {@code closed} by then.
   */
  void onFirstRequest(Node node, Executor streamExecutor, BooleanSupplier closed, Consumer<Refusal> onVerdict) {
    Refusal invalid = checkNode(node);
    if (invalid != null) {
      onVerdict.accept(invalid);
      return;
    }
    NodeIdentity claimed = NodeIdentity.of(node);
    CompletableFuture<Authorization> decision = authorize(claimed);
    if (decision.isDone()) {
      onVerdict.accept(admit(claimed, decision));
      return;
    }
    decision.whenComplete((result, error) -> streamExecutor.execute(() -> {
      if (!closed.getAsBoolean()) {
        onVerdict.accept(admit(claimed, decision));
      }
    }));
  }

  /** The refusal of a first request whose node is missing or unusable, or null when it may be authorized. */
  Refusal checkNode(Node node) {
    boolean missing = node == null || node.getId().isEmpty();
    String invalid = missing ? "the first request must carry node.id" : NodeIdentity.invalidity(NodeIdentity.of(node));
    if (invalid == null) {
      return null;
    }
    context.metrics().badRequest(missing ? BadRequest.MISSING_NODE : BadRequest.INVALID_NODE);
    long suppressed = context.limitLog().admit();
    if (suppressed >= 0) {
      log.warn("stream={} peer={} refused: {}; closing the stream{}", streamId, peer, invalid,
          LogThrottle.suppressedNote(suppressed));
    }
    return new Refusal(Status.INVALID_ARGUMENT.withDescription(invalid), "invalid node on first request");
  }

  /**
   * Asks the authorizer about {@code claimed} with the connection's credentials (the token is not kept past this).
   * The decision may be pending: {@link #deciding()} until {@link #admit} is called with it.
   */
  CompletableFuture<Authorization> authorize(NodeIdentity claimed) {
    ClientCredentials credentials = new ClientCredentials(claimed, presented.peer(), presented.bearerToken());
    presented = new ClientCredentials(null, presented.peer(), Optional.empty());
    CompletableFuture<Authorization> decision;
    try {
      decision = context.options().authorizer().authorize(credentials);
    } catch (RuntimeException e) {
      decision = CompletableFuture.failedFuture(e);
    }
    if (!decision.isDone()) {
      pendingAuthorization = decision;
    }
    return decision;
  }

  /** Whether an authorization is under way: nothing more is read from the client meanwhile. */
  boolean deciding() {
    return pendingAuthorization != null;
  }

  /**
   * Applies a completed authorization: the refusal the stream ends with, or null once the stream is identified with
   * the view it may receive.
   */
  Refusal admit(NodeIdentity claimed, CompletableFuture<Authorization> decision) {
    pendingAuthorization = null;
    Authorization verdict = outcome(decision);
    if (verdict.denied()) {
      context.metrics().authDenied(verdict.label());
      long suppressed = context.limitLog().admit();
      if (suppressed >= 0) {
        log.warn(
            "xDS client refused ({}): node={} claimedNodeName={} stream={} protocol={} peer={} reason={}{}",
            verdict.code(), claimed.nodeId(), claimed.nodeName(), streamId, protocol, peer,
            SafeText.of(verdict.reason(), 1024), LogThrottle.suppressedNote(suppressed));
      }
      return new Refusal(Status.fromCode(verdict.code()).withDescription(verdict.reason()),
          "refused: " + verdict.reason());
    }
    context.metrics().authorized(verdict.label());
    claimedNode = claimed.nodeName();
    authorization = verdict.reason();
    identity = new NodeIdentity(claimed.nodeId(), verdict.viewNode(), claimed.nodeNameFromMetadata(),
        verdict.principal(), streamId, verdict.localPrefixes());
    cancelFirstRequestTimer();
    log.info(
        "stream opened node={} nodeName={} claimedNodeName={} stream={} protocol={} peer={} principal={}"
            + " authorization=\"{}\"",
        identity.nodeId(), identity.nodeName(), claimed.nodeName(), streamId, protocol, peer,
        SafeText.of(identity.principal()), SafeText.of(authorization, 1024));
    return null;
  }

  private static Authorization outcome(CompletableFuture<Authorization> decision) {
    try {
      Authorization result = decision.join();
      return result != null ? result : Authorization.unavailable("error", "authorization returned nothing");
    } catch (RuntimeException e) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      return Authorization.unavailable("error", "authorization could not be checked: " + cause.getMessage());
    }
  }

  /**
   * How long to wait before reading the client's next request: 0, or, when it exceeds its request rate, the time
   * until it may send again (reads are delayed, the stream is never cut for it).
   */
  long readDelayNanos() {
    long delay = rateLimiter == null ? 0 : rateLimiter.acquireOrDelay();
    if (delay == 0) {
      return 0;
    }
    context.metrics().limited(XdsMetrics.Limit.REQUEST_RATE);
    long now = System.nanoTime();
    if (throttledSinceLogNanos == 0 || now - throttledSinceLogNanos > XdsTunables.THROTTLE_LOG_INTERVAL_NANOS) {
      throttledSinceLogNanos = now;
      log.warn(
          "node={} stream={} peer={} sends requests faster than {}/s (burst {}): reading its next request in {} ms"
              + " (--xds-max-request-rate)",
          SafeText.of(nodeId()), streamId, peer, context.options().requestsPerSecond(),
          context.options().requestBurst(), Math.max(1, delay / 1_000_000));
    }
    return delay;
  }

  /**
   * Whether a name may be subscribed to explicitly. With enforced authorization, node-private names (a pod's
   * listener or clusters) are only served through the wildcard view of the node the client was authorized
   * for; an explicit subscription to one is ignored, logged and counted.
   */
  boolean subscribable(ResourceType type, String name) {
    if (name.length() > XdsTunables.MAX_RESOURCE_NAME_CHARS) {
      context.metrics().badRequest(BadRequest.NAME_TOO_LONG);
      long suppressed = badRequestLog.admit();
      if (suppressed >= 0) {
        log.warn("node={} stream={} peer={} type={} subscribed to a name of {} characters (longer than any resource"
                + " name, limit {}); ignored{}", nodeId(), streamId, peer, type.shortName(), name.length(),
            XdsTunables.MAX_RESOURCE_NAME_CHARS, LogThrottle.suppressedNote(suppressed));
      }
      return false;
    }
    XdsServerOptions options = context.options();
    if (!options.authorizer().enforcing() || !options.nodePrivateName().test(name)) {
      return true;
    }
    context.metrics().badRequest(BadRequest.NODE_PRIVATE_NAME);
    String message = "node={} stream={} peer={} type={} subscribed by name to node-private resource '{}'; ignored:"
        + " such resources are only served in the wildcard view of the client's own node";
    if (!loggedPrivateName) {
      // SotW clients repeat their names on every request: warn once per stream
      loggedPrivateName = true;
      log.warn(message, nodeId(), streamId, peer, type.shortName(), SafeText.of(name));
    } else {
      log.debug(message, nodeId(), streamId, peer, type.shortName(), SafeText.of(name));
    }
    return false;
  }

  /**
   * {@code requested} as this client may have it: a client authorized for node-independent resources only gets the
   * EDS/RDS names it asks for, never a wildcard over every one in the cluster.
   */
  Subscription admissible(ResourceType type, Subscription requested) {
    if (!requested.wildcard() || type.fullState() || !sharedOnly()) {
      return requested;
    }
    context.metrics().badRequest(BadRequest.SHARED_ONLY_WILDCARD);
    if (!loggedSharedWildcard) {
      loggedSharedWildcard = true;
      log.warn("node={} stream={} peer={} type={} wildcard subscription ignored: a client authorized for"
              + " node-independent resources only gets the {} it names, not every one in the cluster",
          nodeId(), streamId, peer, type.shortName(), type.shortName());
    }
    return new Subscription(false, requested.names());
  }

  private boolean sharedOnly() {
    NodeIdentity who = identity;
    return who != null && who.nodeName().isEmpty() && context.options().authorizer().enforcing();
  }

  /**
   * Charges a type's new set of subscribed names to the client address's byte budget and to the stream's limit of
   * names; the refusal the stream ends with when either would be exceeded, else null.
   */
  Refusal subscribed(ResourceType type, Set<String> names) {
    long bytes = 0;
    for (String name : names) {
      bytes += name.length() + XdsTunables.NAME_OVERHEAD_BYTES;
    }
    long previous = nameBytes[type.ordinal()];
    nameBytes[type.ordinal()] = bytes;
    long totalBytes = 0;
    for (long each : nameBytes) {
      totalBytes += each;
    }
    if (slot != null && !slot.chargeNames(totalBytes)) {
      nameBytes[type.ordinal()] = previous;
      context.metrics().limited(XdsMetrics.Limit.NAME_BYTES_PER_ADDRESS);
      String message = "the subscribed resource names of the streams from " + peer + " would take more than "
          + context.options().maxNameBytesPerAddress() + " bytes (--xds-max-name-bytes-per-address)";
      long suppressed = context.limitLog().admit();
      if (suppressed >= 0) {
        log.warn("node={} stream={} {}; closing the stream{}", nodeId(), streamId, message,
            LogThrottle.suppressedNote(suppressed));
      }
      return new Refusal(Status.RESOURCE_EXHAUSTED.withDescription(message), "too many bytes of subscribed names");
    }
    nameCounts[type.ordinal()] = names.size();
    int max = context.options().maxSubscribedNames();
    if (max > 0) {
      int total = 0;
      for (int each : nameCounts) {
        total += each;
      }
      if (total > max) {
        context.metrics().limited(XdsMetrics.Limit.SUBSCRIBED_NAMES);
        String message = "subscribed to " + total + " resource names, more than the limit of " + max
            + " per stream (--xds-max-subscribed-names)";
        log.warn("node={} stream={} peer={} {}; closing the stream", nodeId(), streamId, peer, message);
        return new Refusal(Status.RESOURCE_EXHAUSTED.withDescription(message), "too many subscribed names");
      }
    }
    return null;
  }

  /** The stream closed: its share of the limits goes back, a pending authorization and the deadline are dropped. */
  void close() {
    if (slot != null) {
      slot.release();
    }
    CompletableFuture<Authorization> pending = pendingAuthorization;
    if (pending != null) {
      pending.cancel(false);
    }
    cancelFirstRequestTimer();
  }

  private void cancelFirstRequestTimer() {
    ScheduledFuture<?> timer = firstRequestTimer;
    if (timer != null) {
      timer.cancel(false);
      firstRequestTimer = null;
    }
  }

  /** Who the stream serves, once authorized; null before. */
  NodeIdentity identity() {
    return identity;
  }

  String nodeId() {
    NodeIdentity who = identity;
    return who == null ? "?" : who.nodeId();
  }

  String nodeName() {
    NodeIdentity who = identity;
    return who == null ? "?" : who.nodeName();
  }

  String peer() {
    return peer;
  }

  String claimedNode() {
    return claimedNode;
  }

  /** How the client was authorized, shown in the admin status. */
  String authorization() {
    return authorization;
  }
}
