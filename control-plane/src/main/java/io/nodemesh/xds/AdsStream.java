package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;

import com.google.common.collect.Iterables;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import io.nodemesh.xds.TypeState.AckMatch;
import io.nodemesh.xds.TypeState.Sent;
import io.nodemesh.xds.XdsMetrics.BadRequest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ADS stream (SotW or delta). Everything mutable is confined to the stream's sequential executor:
 * requests, pushes and status updates run there one at a time. Other threads only set dirty bits
 * ({@link #markDirty}) and read volatile, immutable status.
 *
 * <p>Pending work is a bit per type ("this type may differ from what the client holds"), recomputed
 * from the latest snapshot when the stream is ready: however many updates arrive while a client is slow,
 * the backlog is at most four bits (latest wins).
 */
abstract class AdsStream<ReqT, RespT> {

  static final Logger log = LoggerFactory.getLogger(AdsStream.class);

  /** What the store's change listener reads to decide whether a change concerns this stream. */
  record Interest(String nodeName, Subscription[] subscriptions) {}

  final long id;
  final XdsServer server;
  final ServerCallStreamObserver<RespT> observer;
  final Executor executor;
  final String peer;
  final long connectedAtMillis;
  /** The connection's remote address and bearer token; the token is dropped once the stream is authorized. */
  private ClientCredentials presented;
  private final RequestRateLimiter rateLimiter;
  final TypeState[] types = new TypeState[ResourceType.all().length];

  private final AtomicInteger dirty = new AtomicInteger();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private volatile Interest interest;
  private volatile NodeIdentity identity;
  private volatile boolean closed;
  private long nonceCounter;
  /** The first request waits for an asynchronous authorization; nothing more is read meanwhile. */
  private boolean authorizing;
  /** The authorization under way, cancelled if the stream closes first (a queued TokenReview is dropped). */
  private volatile CompletableFuture<Authorization> pendingAuthorization;
  /** The first-request deadline; cancelled once the stream is authorized or closed, so it pins nothing. */
  private volatile ScheduledFuture<?> firstRequestTimer;
  /** The node the client claimed (its view is identity.nodeName() once authorized, "" for none). */
  private volatile String claimedNode = "";
  /** How the client was authorized, for the admin status. */
  private volatile String authorization = "";
  private long throttledSinceLogNanos;
  private boolean loggedPrivateName;
  /** Warnings a client can trigger on every request (bad nonces, unknown types) are logged this often at most. */
  private final LogThrottle badRequestLog = new LogThrottle(XdsTunables.BAD_REQUEST_LOG_INTERVAL_MILLIS);
  /** Bytes of explicitly subscribed names per type, as charged to the per-address budget. */
  private final long[] nameBytes = new long[ResourceType.all().length];
  private boolean loggedSharedWildcard;
  /** The stream's share of the server's limits (streams, name bytes per address); released when it closes. */
  private XdsServer.Slot slot;

  AdsStream(long id, XdsServer server, ServerCallStreamObserver<RespT> observer, Executor executor,
      ClientConnection connection) {
    this.id = id;
    this.server = server;
    this.observer = observer;
    this.executor = executor;
    this.presented = new ClientCredentials(null, connection.remote(), connection.bearerToken());
    this.peer = presented.peerText();
    XdsServerOptions options = server.options();
    this.rateLimiter = options.requestsPerSecond() > 0
        ? new RequestRateLimiter(options.requestsPerSecond(), options.requestBurst(), System::nanoTime)
        : null;
    this.connectedAtMillis = server.clock().millis();
    for (ResourceType type : ResourceType.all()) {
      types[type.ordinal()] = new TypeState(type);
    }
  }

  /** Which ADS variant this stream speaks. */
  abstract XdsProtocol protocol();

  /** Handles one request on the stream executor; the stream is identified and authorized by then. */
  abstract void handle(ReqT request);

  /** The node a request carries, or null when it has none. */
  abstract Node nodeOf(ReqT request);

  /** Called after the client rejected a (non-probe) response; delta streams start NACK isolation here. */
  void onNacked(TypeState state, Sent sent, String error) {}

  /**
   * Continues the NACK isolation of a type when no probe is in flight: sends the next probe (true), or ends
   * the isolation (false) so the type's normal pushes resume. Runs in {@link #drain}.
   */
  boolean advanceIsolation(TypeState state, StoreSnapshot snapshot) {
    state.isolation = null;
    return false;
  }

  /** Sends what the diffs call for, in make-before-break order. Runs on the stream executor. */
  abstract void send(StoreSnapshot snapshot, Diff[] diffs);

  /**
   * Writes what earlier pushes left unsent because the client could not take it yet; true when nothing is left.
   * Nothing new is computed for a stream until then, so parts reach the client in the order they were cut.
   */
  boolean sendOutgoing() {
    return true;
  }

  /**
   * Wires flow control and returns the request observer. Must be called inside the service method,
   * before it returns, because manual inbound flow control can only be switched on then.
   */
  final StreamObserver<ReqT> start() {
    // one request at a time: a client that floods requests is throttled by HTTP/2 flow control, not
    // queued in our memory
    observer.disableAutoRequest();
    observer.setOnReadyHandler(this::scheduleDrain);
    observer.setOnCancelHandler(() -> run(() -> close(true, "cancelled or disconnected")));
    server.metricsInternal().streamOpened();
    observer.request(1);
    long deadline = server.options().firstRequestTimeoutMillis();
    if (deadline > 0) {
      firstRequestTimer = server.schedule(() -> run(this::enforceFirstRequestDeadline), deadline * 1_000_000);
    }
    return new StreamObserver<>() {
      @Override
      public void onNext(ReqT request) {
        run(() -> onRequest(request));
      }

      @Override
      public void onError(Throwable error) {
        run(() -> close(true, Status.fromThrowable(error).toString()));
      }

      @Override
      public void onCompleted() {
        run(
            () -> {
              if (!closed) {
                close(false, "client half-closed");
                observer.onCompleted();
              }
            });
      }
    };
  }

  /**
   * A stream that has not been authorized by now (no first request, or an authorization still pending) ends:
   * an idle connection must not hold a stream slot, and a stalled TokenReview must not pin the stream forever.
   */
  private void enforceFirstRequestDeadline() {
    if (closed || identity != null) {
      return;
    }
    server.metricsInternal().limited(XdsMetrics.Limit.FIRST_REQUEST_DEADLINE);
    String message = "no authorized first request within " + server.options().firstRequestTimeoutMillis()
        + " ms (--xds-first-request-timeout)";
    long suppressed = server.limitLog().admit();
    if (suppressed >= 0) {
      log.warn("stream={} peer={} {}; closing the stream{}", id, peer, message, LogThrottle.suppressedNote(suppressed));
    }
    reject(Status.DEADLINE_EXCEEDED.withDescription(message), "first request deadline");
  }

  private void onRequest(ReqT request) {
    if (closed) {
      return;
    }
    if (identity == null) {
      if (authorizing) {
        // cannot happen: nothing more is read until the authorization completes
        return;
      }
      try {
        if (!authorize(request)) {
          return;
        }
      } catch (RuntimeException e) {
        fail(e);
        return;
      }
    }
    process(request);
  }

  private void process(ReqT request) {
    try {
      handle(request);
      drain();
    } catch (RuntimeException e) {
      fail(e);
      return;
    }
    requestNext();
  }

  private void fail(RuntimeException e) {
    log.error("node={} stream={} failed to handle a request; closing the stream", SafeText.of(nodeId()), id, e);
    close(false, "internal error: " + e);
    observer.onError(Status.INTERNAL.withDescription("internal error").asRuntimeException());
  }

  /** Reads the next request, at once or, when the client exceeds its request rate, a little later. */
  private void requestNext() {
    if (closed) {
      return;
    }
    long delay = rateLimiter == null ? 0 : rateLimiter.acquireOrDelay();
    if (delay == 0) {
      observer.request(1);
      return;
    }
    server.metricsInternal().limited(XdsMetrics.Limit.REQUEST_RATE);
    long now = System.nanoTime();
    if (throttledSinceLogNanos == 0 || now - throttledSinceLogNanos > XdsTunables.THROTTLE_LOG_INTERVAL_NANOS) {
      throttledSinceLogNanos = now;
      log.warn(
          "node={} stream={} peer={} sends requests faster than {}/s (burst {}): reading its next request in {} ms"
              + " (--xds-max-request-rate)",
          SafeText.of(nodeId()), id, peer, server.options().requestsPerSecond(), server.options().requestBurst(),
          Math.max(1, delay / 1_000_000));
    }
    server.schedule(() -> run(this::requestNext), delay);
  }

  /**
   * Reads the node on the first request and authorizes the client. Returns true when the request may be
   * handled now; false when the stream was refused (and closed) or the decision is pending (the request is
   * then handled once it arrives).
   */
  private boolean authorize(ReqT request) {
    Node node = nodeOf(request);
    String invalid = node == null || node.getId().isEmpty() ? "the first request must carry node.id"
        : NodeIdentity.invalidity(NodeIdentity.of(node));
    if (invalid != null) {
      server.metricsInternal().badRequest(node == null || node.getId().isEmpty()
          ? BadRequest.MISSING_NODE : BadRequest.INVALID_NODE);
      long suppressed = server.limitLog().admit();
      if (suppressed >= 0) {
        log.warn("stream={} peer={} refused: {}; closing the stream{}", id, peer, invalid,
            LogThrottle.suppressedNote(suppressed));
      }
      close(false, "invalid node on first request");
      observer.onError(Status.INVALID_ARGUMENT.withDescription(invalid).asRuntimeException());
      return false;
    }
    NodeIdentity claimed = NodeIdentity.of(node);
    ClientCredentials credentials = new ClientCredentials(claimed, presented.peer(), presented.bearerToken());
    presented = new ClientCredentials(null, presented.peer(), Optional.empty());
    CompletableFuture<Authorization> decision;
    try {
      decision = server.options().authorizer().authorize(credentials);
    } catch (RuntimeException e) {
      decision = CompletableFuture.failedFuture(e);
    }
    if (decision.isDone()) {
      return admit(claimed, outcome(decision));
    }
    authorizing = true;
    CompletableFuture<Authorization> pending = decision;
    pendingAuthorization = pending;
    pending.whenComplete((result, error) -> run(() -> {
      authorizing = false;
      pendingAuthorization = null;
      if (!closed && admit(claimed, outcome(pending))) {
        process(request);
      }
    }));
    return false;
  }

  private static Authorization outcome(CompletableFuture<Authorization> decision) {
    try {
      Authorization result = decision.join();
      return result != null ? result : Authorization.unavailable("error", "authorization returned nothing");
    } catch (RuntimeException e) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null
          ? e.getCause() : e;
      return Authorization.unavailable("error", "authorization could not be checked: " + cause.getMessage());
    }
  }

  /** Applies an authorization: refuses the stream, or identifies it with the view it may receive. */
  private boolean admit(NodeIdentity claimed, Authorization decision) {
    if (closed) {
      return false;
    }
    if (decision.denied()) {
      server.metricsInternal().authDenied(decision.label());
      long suppressed = server.limitLog().admit();
      if (suppressed >= 0) {
        log.warn(
            "xDS client refused ({}): node={} claimedNodeName={} stream={} protocol={} peer={} reason={}{}",
            decision.code(), claimed.nodeId(), claimed.nodeName(), id, protocol(), peer,
            SafeText.of(decision.reason(), 1024), LogThrottle.suppressedNote(suppressed));
      }
      close(false, "refused: " + decision.reason());
      observer.onError(Status.fromCode(decision.code()).withDescription(decision.reason()).asRuntimeException());
      return false;
    }
    server.metricsInternal().authorized(decision.label());
    claimedNode = claimed.nodeName();
    authorization = decision.reason();
    identity = new NodeIdentity(
        claimed.nodeId(), decision.viewNode(), claimed.nodeNameFromMetadata(), decision.principal(), id);
    cancelFirstRequestTimer();
    publishInterest();
    server.register(this);
    log.info(
        "stream opened node={} nodeName={} claimedNodeName={} stream={} protocol={} peer={} principal={}"
            + " authorization=\"{}\"",
        identity.nodeId(), identity.nodeName(), claimed.nodeName(), id, protocol(), peer,
        SafeText.of(identity.principal()), SafeText.of(authorization, 1024));
    return true;
  }

  /**
   * Whether a name may be subscribed to explicitly. With enforced authorization, node-private names (a pod's
   * listener or clusters) are only served through the wildcard view of the node the client was authorized
   * for; an explicit subscription to one is ignored, logged and counted.
   */
  final boolean subscribable(ResourceType type, String name) {
    if (name.length() > XdsTunables.MAX_RESOURCE_NAME_CHARS) {
      server.metricsInternal().badRequest(BadRequest.NAME_TOO_LONG);
      long suppressed = badRequestLog.admit();
      if (suppressed >= 0) {
        log.warn("node={} stream={} peer={} type={} subscribed to a name of {} characters (longer than any resource"
                + " name, limit {}); ignored{}", nodeId(), id, peer, type.shortName(), name.length(),
            XdsTunables.MAX_RESOURCE_NAME_CHARS, LogThrottle.suppressedNote(suppressed));
      }
      return false;
    }
    XdsServerOptions options = server.options();
    if (!options.authorizer().enforcing() || !options.nodePrivateName().test(name)) {
      return true;
    }
    server.metricsInternal().badRequest(BadRequest.NODE_PRIVATE_NAME);
    String message = "node={} stream={} peer={} type={} subscribed by name to node-private resource '{}'; ignored:"
        + " such resources are only served in the wildcard view of the client's own node";
    if (!loggedPrivateName) {
      // SotW clients repeat their names on every request: warn once per stream
      loggedPrivateName = true;
      log.warn(message, nodeId(), id, peer, type.shortName(), SafeText.of(name));
    } else {
      log.debug(message, nodeId(), id, peer, type.shortName(), SafeText.of(name));
    }
    return false;
  }

  /** Ends the stream with {@code status}; the reason is logged and closes the stream. */
  final void reject(Status status, String logReason) {
    close(false, logReason);
    observer.onError(status.asRuntimeException());
  }

  /** The limits' slot this stream holds, released when it closes; called once, before {@link #start}. */
  final void onRelease(XdsServer.Slot held) {
    this.slot = held;
  }

  final TypeState state(ResourceType type) {
    return types[type.ordinal()];
  }

  /**
   * The state of the type a request is about, after matching the ACK/NACK it carries (if any). Returns null
   * when the request is to be ignored: its type URL is one we do not serve, or, with {@code latestOnly} (SotW),
   * it answers a superseded or unknown response, so its subscriptions are superseded too. In delta,
   * subscription changes stand on their own and are processed whatever the nonce says.
   */
  final TypeState triage(String typeUrl, String nonce, com.google.rpc.Status error, boolean latestOnly) {
    Optional<ResourceType> type = ResourceType.fromTypeUrl(typeUrl);
    if (type.isEmpty()) {
      unknownType(typeUrl);
      return null;
    }
    TypeState state = state(type.get());
    if (nonce.isEmpty()) {
      return state;
    }
    AckMatch match = onResponseNonce(state, nonce, error, latestOnly);
    return match == AckMatch.CURRENT || !latestOnly ? state : null;
  }

  /** Logs and counts a request whose type URL we do not serve; the stream carries on. */
  private void unknownType(String typeUrl) {
    server.metricsInternal().badRequest(BadRequest.UNKNOWN_TYPE_URL);
    long suppressed = badRequestLog.admit();
    if (suppressed >= 0) {
      log.warn("node={} stream={} requested unknown type URL '{}'; ignoring the request{}",
          nodeId(), id, SafeText.of(typeUrl), LogThrottle.suppressedNote(suppressed));
    }
  }

  /** Logs (at most every few seconds per stream) and counts a request the protocol does not allow. */
  final void malformed(String what) {
    server.metricsInternal().badRequest(BadRequest.MALFORMED);
    long suppressed = badRequestLog.admit();
    if (suppressed >= 0) {
      log.warn("node={} stream={} malformed request: {}{}", nodeId(), id, what, LogThrottle.suppressedNote(suppressed));
    }
  }

  /**
   * Records a request's subscription for a type. When it changed (or is the first), ends the stream if the
   * client now subscribes to more names than allowed, and otherwise marks the type for a push.
   */
  final void subscribe(TypeState state, Subscription next, boolean first) {
    state.requested = true;
    if (next.wildcard() && !state.type.fullState() && sharedOnly()) {
      next = new Subscription(false, next.names());
      server.metricsInternal().badRequest(BadRequest.SHARED_ONLY_WILDCARD);
      if (!loggedSharedWildcard) {
        loggedSharedWildcard = true;
        log.warn("node={} stream={} peer={} type={} wildcard subscription ignored: a client authorized for"
            + " node-independent resources only gets the {} it names, not every one in the cluster",
            nodeId(), id, peer, state.type.shortName(), state.type.shortName());
      }
    }
    if (!first && next.equals(state.subscription)) {
      return;
    }
    state.subscription = state.subscription.reuseIfEqual(next);
    if (!chargeNames(state)) {
      return;
    }
    int max = server.options().maxSubscribedNames();
    if (max > 0) {
      int total = 0;
      for (TypeState each : types) {
        total += each.subscription.names().size();
      }
      if (total > max) {
        server.metricsInternal().limited(XdsMetrics.Limit.SUBSCRIBED_NAMES);
        String message = "subscribed to " + total + " resource names, more than the limit of " + max
            + " per stream (--xds-max-subscribed-names)";
        log.warn("node={} stream={} peer={} {}; closing the stream", nodeId(), id, peer, message);
        reject(Status.RESOURCE_EXHAUSTED.withDescription(message), "too many subscribed names");
        return;
      }
    }
    publishInterest();
    state.publish();
    dirty.getAndUpdate(bits -> bits | bit(state.type));
  }

  /** Whether this client was authorized for node-independent resources only (it holds no node's view). */
  private boolean sharedOnly() {
    NodeIdentity who = identity;
    return who != null && who.nodeName().isEmpty() && server.options().authorizer().enforcing();
  }

  /**
   * Charges the type's subscribed names to the client address's byte budget; when the address would exceed it,
   * ends the stream (RESOURCE_EXHAUSTED) and returns false.
   */
  private boolean chargeNames(TypeState state) {
    long bytes = 0;
    for (String name : state.subscription.names()) {
      bytes += name.length() + XdsTunables.NAME_OVERHEAD_BYTES;
    }
    long previous = nameBytes[state.type.ordinal()];
    nameBytes[state.type.ordinal()] = bytes;
    long total = 0;
    for (long each : nameBytes) {
      total += each;
    }
    if (slot == null || slot.chargeNames(total)) {
      return true;
    }
    nameBytes[state.type.ordinal()] = previous;
    server.metricsInternal().limited(XdsMetrics.Limit.NAME_BYTES_PER_ADDRESS);
    String message = "the subscribed resource names of the streams from " + peer + " would take more than "
        + server.options().maxNameBytesPerAddress() + " bytes (--xds-max-name-bytes-per-address)";
    long suppressed = server.limitLog().admit();
    if (suppressed >= 0) {
      log.warn("node={} stream={} {}; closing the stream{}", nodeId(), id, message, LogThrottle.suppressedNote(suppressed));
    }
    reject(Status.RESOURCE_EXHAUSTED.withDescription(message), "too many bytes of subscribed names");
    return false;
  }

  /**
   * Matches an ACK/NACK to a response in flight. Unknown nonces (never issued) and stale ones (superseded)
   * are logged and counted and otherwise ignored, as the protocol requires.
   */
  private AckMatch onResponseNonce(TypeState state, String nonceText, com.google.rpc.Status error, boolean latestOnly) {
    long nonce;
    try {
      nonce = Long.parseLong(nonceText);
    } catch (NumberFormatException e) {
      nonce = -1;
    }
    String kind = error == null ? "ACK" : "NACK";
    if (nonce <= 0 || nonce > nonceCounter) {
      server.metricsInternal().badRequest(BadRequest.UNKNOWN_NONCE);
      long suppressed = badRequestLog.admit();
      if (suppressed >= 0) {
        log.warn(
            "node={} stream={} type={} {} for response_nonce '{}' that this stream never sent; ignoring it{}",
            nodeId(), id, state.type.shortName(), kind, SafeText.of(nonceText), LogThrottle.suppressedNote(suppressed));
      }
      return AckMatch.UNKNOWN;
    }
    if (latestOnly && nonce == state.lastSentNonce && state.outstanding.isEmpty()) {
      // SotW: a further request about the current response (new names after its ACK) is current, not stale
      return AckMatch.CURRENT;
    }
    Sent sent = state.match(nonce, latestOnly);
    if (sent == null) {
      server.metricsInternal().staleNonce();
      log.debug(
          "node={} stream={} type={} {} for stale nonce {}; ignoring it",
          nodeId(), id, state.type.shortName(), kind, nonce);
      return AckMatch.STALE;
    }
    long now = server.clock().millis();
    if (sent.probe()) {
      String message = error == null ? null : nackMessage(error);
      log.info(
          "node={} stream={} type={} NACK isolation: probe nonce={} with {} resource(s) {}",
          nodeId(), id, state.type.shortName(), nonce, sent.resources().size(),
          message == null ? "ACKed" : "rejected: " + SafeText.of(message));
      if (state.isolation != null && state.isolation.inFlightNonce == nonce) {
        state.isolation.answered(message);
        dirty.getAndUpdate(bits -> bits | bit(state.type));
      }
      state.publish();
      return AckMatch.CURRENT;
    }
    if (error != null) {
      state.lastResponseNacked = true;
      state.nackError = nackMessage(error);
      server.metricsInternal().nacked(state.type);
      log.warn(
          "NACK node={} nodeName={} stream={} type={} nonce={} version={} error={}",
          nodeId(), nodeName(), id, state.type.shortName(), nonce, sent.version(), SafeText.of(state.nackError));
      server.listener().onNack(identity, state.type, sent.generation(), state.nackError);
      onNacked(state, sent, state.nackError);
    } else {
      state.lastResponseNacked = false;
      state.ackedVersion = sent.version();
      state.ackedGeneration = sent.generation();
      state.ackedAtMillis = now;
      server.metricsInternal().acked(state.type);
      server.listener().onAck(identity, state.type, sent.generation(), sent.causes());
    }
    state.publish();
    return AckMatch.CURRENT;
  }

  /** The client's error text as kept (status, quarantine, Events): at most {@link XdsTunables#MAX_NACK_CHARS}. */
  private static String nackMessage(com.google.rpc.Status error) {
    return error.getMessage().isEmpty() ? "code " + error.getCode()
        : SafeText.truncate(error.getMessage(), XdsTunables.MAX_NACK_CHARS);
  }

  /** Marks a type as having pending work (on the stream executor; the caller drains). */
  final void pending(ResourceType type) {
    dirty.getAndUpdate(bits -> bits | bit(type));
  }

  /**
   * Store generation {@code generation} changed these types' resources for this client (from the store's
   * thread): remembered as a cause of the next response of each type, then marked dirty.
   */
  final void markChanged(int typeBits, long generation) {
    for (TypeState state : types) {
      if ((typeBits & bit(state.type)) != 0 && state.pendingCauses.size() < XdsTunables.MAX_CAUSES_PER_RESPONSE) {
        state.pendingCauses.add(generation);
      }
    }
    markDirty(typeBits);
  }

  /** Marks types dirty (from any thread) and schedules a drain. */
  final void markDirty(int typeBits) {
    dirty.getAndUpdate(bits -> bits | typeBits);
    scheduleDrain();
  }

  final void scheduleDrain() {
    if (!closed && drainScheduled.compareAndSet(false, true)) {
      run(this::drain);
    }
  }

  /** Which of some listeners a client holds for sure: ACKed present, or held not and with nothing in flight. */
  record ListenerAcks(Set<String> present, Set<String> absent) {}

  /**
   * Which of {@code names} (listeners) the client has ACKed holding, and which it does not hold with no LDS
   * response in flight (issue 16: the node agent waits for both). A name sent in a response not yet ACKed
   * is in neither set, and so is everything while the last LDS response stands rejected. Computed on the
   * stream executor; never completes if the stream is closed (callers bound their wait).
   */
  CompletableFuture<ListenerAcks> listenerAcks(Collection<String> names) {
    CompletableFuture<ListenerAcks> result = new CompletableFuture<>();
    run(() -> {
      TypeState state = types[ResourceType.LISTENER.ordinal()];
      Diff.Known known = state.known;
      Set<String> present = new HashSet<>();
      Set<String> absent = new HashSet<>();
      if (!closed && !state.lastResponseNacked && known.declared() == null) {
        Set<String> inFlight = new HashSet<>();
        state.outstanding.forEach(sent -> {
          sent.resources().forEach(resource -> inFlight.add(resource.name()));
          inFlight.addAll(sent.removedNames());
        });
        // a SotW response restates every name: while one is in flight, nothing is settled
        boolean everythingInFlight = !state.outstanding.isEmpty() && !responsesListTheirNames();
        for (String name : names) {
          if (everythingInFlight || inFlight.contains(name)) {
            continue;
          }
          if (known.scope().contains(name) && known.table().get(name) != null) {
            present.add(name);
          } else {
            absent.add(name);
          }
        }
      }
      result.complete(new ListenerAcks(Set.copyOf(present), Set.copyOf(absent)));
    });
    return result;
  }

  /** Whether each response remembers the names it carried and removed (delta), so others are settled. */
  boolean responsesListTheirNames() {
    return false;
  }

  /** Runs a task on the stream executor; once the server is closed there is nothing left to do. */
  private void run(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      log.debug("node={} stream={} task dropped: server closed", nodeId(), id);
    }
  }

  /**
   * Types whose held state still refers to a table older than {@code generation}: candidates for
   * re-anchoring. Declared (reconnect) state is always folded by the first push, so it never lingers.
   */
  final int typesAnchoredBefore(long generation) {
    int bits = 0;
    for (TypeState state : types) {
      if (state.published.requested() && state.knownGeneration < generation) {
        bits |= bit(state.type);
      }
    }
    return bits;
  }

  /** Types with pending work (0..4): the whole per-stream backlog, whatever the update rate. */
  final int pendingTypes() {
    return Integer.bitCount(dirty.get());
  }

  /** Computes and sends what the client lacks, if it can take it now. Runs on the stream executor. */
  final void drain() {
    drainScheduled.set(false);
    if (closed || identity == null || !observer.isReady() || !sendOutgoing()) {
      // not ready: the onReady handler drains again; the dirty bits stay as they are
      return;
    }
    int bits = dirty.getAndSet(0);
    if (bits == 0) {
      return;
    }
    StoreSnapshot snapshot = server.store().snapshot();
    Diff[] diffs = new Diff[types.length];
    for (ResourceType type : ResourceType.all()) {
      TypeState state = state(type);
      if ((bits & bit(type)) == 0) {
        continue;
      }
      if (!state.requested) {
        state.pendingCauses.clear();
        continue;
      }
      if (state.isolation != null) {
        // one probe in flight at a time; its answer marks the type dirty again
        if (state.isolation.inFlight != null || advanceIsolation(state, snapshot) || closed) {
          continue;
        }
      }
      Scope scope = Scope.resolve(type, state.subscription, snapshot, identity.nodeName());
      Diff diff = Diff.compute(state.known, scope, snapshot.table(type), server.store().layerChanges());
      diffs[type.ordinal()] = diff;
      // changes that left what the client holds as it was caused nothing here (no convergence to observe)
      if (!state.pendingCauses.isEmpty()) {
        List<Long> causes = new ArrayList<>(state.causesForNextResponse);
        for (Long cause; (cause = state.pendingCauses.poll()) != null; ) {
          causes.add(cause);
        }
        if (!diff.isEmpty()) {
          state.causesForNextResponse = List.copyOf(causes);
        }
      }
    }
    for (int i = 0; i < diffs.length; i++) {
      Diff diff = diffs[i];
      if (diff != null && !diff.missing.isEmpty()) {
        server.metricsInternal().unknownResourceNames(diff.missing.size());
        log.info(
            "node={} stream={} type={} subscribed to names the server does not hold: {}",
            nodeId(), id, types[i].type.shortName(), names(diff.missing));
      }
    }
    send(snapshot, diffs);
    for (int i = 0; i < diffs.length; i++) {
      Diff diff = diffs[i];
      if (diff == null) {
        continue;
      }
      TypeState state = types[i];
      // fold even when nothing was sent: the client holds what we sent, and what it was told is gone
      state.known = diff.after();
      state.knownGeneration = snapshot.generation();
      state.responseOwed = false;
      state.publish();
    }
  }

  /** Sends one response; returns false if the stream is gone. The response carries {@code nonce}. */
  final boolean respond(
      TypeState state, RespT response, long nonce, String version, long generation, int bytes, int resources,
      int removed) {
    return respond(state, response, nonce, version, generation, bytes, List.of(), List.of(), resources, removed, false);
  }

  /**
   * Sends one response that carries {@code carried} and removes {@code removedNames} (both remembered until
   * ACKed: for NACK isolation and {@link #listenerAcks}); {@code probe} marks a response that re-sends a subset of
   * a rejected one.
   */
  final boolean respond(
      TypeState state, RespT response, long nonce, String version, long generation, int bytes,
      List<Resource> carried, List<String> removedNames, int resources, int removed, boolean probe) {
    if (closed) {
      server.metricsInternal().sendFailure();
      log.debug("node={} stream={} dropped a {} push: stream closed", nodeId(), id, state.type.shortName());
      return false;
    }
    if (bytes > server.options().maxResponseBytes()) {
      server.metricsInternal().oversizeResponse();
      log.warn(
          "node={} stream={} type={} response of {} bytes exceeds the {} byte limit; the client may reject it",
          nodeId(), id, state.type.shortName(), bytes, server.options().maxResponseBytes());
    }
    try {
      observer.onNext(response);
    } catch (RuntimeException e) {
      server.metricsInternal().sendFailure();
      log.info("node={} stream={} push failed, closing the stream: {}", nodeId(), id, e.toString());
      close(true, "send failed: " + e);
      return false;
    }
    server.metricsInternal().pushed(state.type, bytes);
    List<Long> causes = state.causesForNextResponse;
    state.causesForNextResponse = List.of();
    state.recordSent(
        new Sent(nonce, version, generation, server.clock().millis(), carried, removedNames, probe, causes));
    log.debug(
        "push node={} stream={} protocol={} type={} nonce={} version={} generation={} resources={} removed={} bytes={}",
        nodeId(), id, protocol(), state.type.shortName(), nonce, version, generation, resources, removed, bytes);
    return true;
  }

  final long nextNonce() {
    return ++nonceCounter;
  }

  final void close(boolean cancelled, String reason) {
    if (closed) {
      return;
    }
    closed = true;
    // release first: whoever sees the stream gone may open a new one from the same address
    if (slot != null) {
      slot.release();
    }
    CompletableFuture<Authorization> pending = pendingAuthorization;
    if (pending != null) {
      pending.cancel(false);
    }
    cancelFirstRequestTimer();
    server.unregister(this);
    server.metricsInternal().streamClosed(cancelled);
    NodeIdentity who = identity;
    if (who != null) {
      server.listener().onStreamClosed(who);
    }
    log.info("stream closed node={} stream={} protocol={} reason={}", nodeId(), id, protocol(), reason);
  }

  private void cancelFirstRequestTimer() {
    ScheduledFuture<?> timer = firstRequestTimer;
    if (timer != null) {
      timer.cancel(false);
      firstRequestTimer = null;
    }
  }

  final boolean isClosed() {
    return closed;
  }

  private void publishInterest() {
    NodeIdentity who = identity;
    if (who == null) {
      return;
    }
    Subscription[] subscriptions = new Subscription[types.length];
    for (TypeState state : types) {
      subscriptions[state.type.ordinal()] = state.requested ? state.subscription : Subscription.NONE;
    }
    interest = new Interest(who.nodeName(), subscriptions);
  }

  /**
   * Which of this stream's types a store change touches, as a bit set. Called in the store's context;
   * reads only volatile, immutable state.
   */
  final int affectedTypes(StoreSnapshot snapshot, StoreChange change) {
    Interest current = interest;
    if (current == null) {
      return 0;
    }
    // called for every stream on every store change: skip the types the change does not touch before any lookup
    boolean viewChanged = !change.changedViews().isEmpty() && change.changedViews().containsKey(current.nodeName());
    int bits = 0;
    for (ResourceType type : ResourceType.all()) {
      Subscription subscription = current.subscriptions()[type.ordinal()];
      if (subscription.isEmpty() || change.changed(type).isEmpty() && !(viewChanged && type.fullState())) {
        continue;
      }
      boolean touched = Scope.touchedBy(type, subscription, change, snapshot, current.nodeName());
      if (touched) {
        bits |= bit(type);
      }
    }
    return bits;
  }



  static int bit(ResourceType type) {
    return 1 << type.ordinal();
  }

  final String nodeId() {
    NodeIdentity who = identity;
    return who == null ? "?" : who.nodeId();
  }

  final String nodeName() {
    NodeIdentity who = identity;
    return who == null ? "?" : who.nodeName();
  }

  final NodeIdentity identity() {
    return identity;
  }

  /** Proxyless for a client without node_name metadata that asks for listeners by name, else Envoy. */
  final ClientKind kind() {
    NodeIdentity who = identity;
    TypeState.Published listeners = state(ResourceType.LISTENER).published;
    boolean proxyless =
        who != null && !who.nodeNameFromMetadata() && listeners.requested() && !listeners.wildcard();
    return proxyless ? ClientKind.PROXYLESS : ClientKind.ENVOY;
  }

  /** The stream's status for the admin layer; safe from any thread. */
  final StreamStatus status() {
    NodeIdentity who = identity;
    Quarantine quarantine = server.quarantine();
    int pending = dirty.get();
    ImmutableList.Builder<StreamStatus.TypeSync> types = ImmutableList.builder();
    for (TypeState state : this.types) {
      TypeState.Published p = state.published;
      if (!p.requested()) {
        continue;
      }
      ImmutableList<Quarantine.Entry> withheld = who == null ? ImmutableList.of() : quarantine.of(who, state.type);
      StreamStatus.Verdict verdict;
      if (p.awaitingAck() || p.isolating() || (pending & bit(state.type)) != 0) {
        verdict = StreamStatus.Verdict.STALE;
      } else if (p.lastResponseNacked() || !withheld.isEmpty()) {
        verdict = StreamStatus.Verdict.NACKED;
      } else {
        verdict = StreamStatus.Verdict.SYNCED;
      }
      types.add(new StreamStatus.TypeSync(state.type, verdict, p.sentVersion(), p.sentNonce(), p.ackedVersion(),
          p.nackError(), p.sentGeneration(), p.ackedGeneration(), p.wildcard(), p.subscribedNames(),
          p.heldResources(), p.isolating(), p.sentAtMillis(), p.ackedAtMillis(), withheld));
    }
    return new StreamStatus(id, who == null ? "" : who.nodeId(), who == null ? "" : who.nodeName(), kind(),
        protocol(), peer, connectedAtMillis, authorization, claimedNode, who == null ? "" : who.principal(),
        types.build());
  }

  /** Names for one log line: the first few, each made safe (they may come from the client), then a count. */
  static String names(Collection<String> names) {
    String listed = Iterables.toString(Iterables.transform(
        Iterables.limit(names, XdsTunables.MAX_NAMES_IN_LOG), name -> SafeText.of(name, 100)));
    return names.size() <= XdsTunables.MAX_NAMES_IN_LOG ? listed
        : listed + " and " + (names.size() - XdsTunables.MAX_NAMES_IN_LOG) + " more";
  }
}
