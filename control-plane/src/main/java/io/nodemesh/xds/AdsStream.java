package io.nodemesh.xds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import io.nodemesh.xds.AckTracker.Sent;
import io.nodemesh.xds.StreamAdmission.Refusal;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ADS stream (SotW or delta): reads one request at a time and pushes what the client lacks. Its parts:
 * {@link StreamAdmission} (who it serves, how much it may ask), {@link RequestTriage} (what a request is about, which
 * response it ACKs or NACKs), {@link ResponseWriter} (responses out), a {@link TypeState} per type (with its
 * {@link AckTracker}); what it may use of the server is its {@link StreamContext}.
 *
 * <p>Threading: everything mutable is confined to the stream's sequential executor: requests, pushes and status
 * updates run there one at a time. Other threads only set dirty bits ({@link #markDirty}, {@link #markChanged}) and
 * read volatile, immutable state: the {@link Interest} the store's listener matches changes against, the
 * published status of each type and the identity.
 *
 * <p>Pending work is a bit per type ("this type may differ from what the client holds"), recomputed from the latest
 * snapshot when the stream is ready: however many updates arrive while a client is slow, the backlog is at most four
 * bits (latest wins).
 */
abstract class AdsStream<ReqT, RespT> {

  static final Logger log = LoggerFactory.getLogger(AdsStream.class);

  final long id;
  final XdsProtocol protocol;
  final StreamContext context;
  final ServerCallStreamObserver<RespT> observer;
  final StreamAdmission admission;
  final RequestTriage triage;
  final ResponseWriter<RespT> responses;
  final long connectedAtMillis;
  private final Executor executor;
  private final TypeState[] types = new TypeState[ResourceType.all().length];
  private final AtomicInteger dirty = new AtomicInteger();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private volatile Interest interest;
  private volatile boolean closed;

  AdsStream(long id, XdsProtocol protocol, StreamContext context, ServerCallStreamObserver<RespT> observer,
      Executor executor, ClientConnection connection, XdsServer.Slot slot) {
    this.id = id;
    this.protocol = protocol;
    this.context = context;
    this.observer = observer;
    this.executor = executor;
    // one pace for the warnings a client can trigger on every request, whichever part notices
    LogThrottle badRequestLog = new LogThrottle(XdsTunables.BAD_REQUEST_LOG_INTERVAL_MILLIS);
    this.admission = new StreamAdmission(context, id, protocol, connection, slot, badRequestLog);
    this.triage = new RequestTriage(this, context, badRequestLog);
    this.responses = new ResponseWriter<>(this, context);
    this.connectedAtMillis = context.clock().millis();
    for (ResourceType type : ResourceType.all()) {
      types[type.ordinal()] = new TypeState(type);
    }
  }

  /** Handles one request on the stream executor; the stream is identified and authorized by then. */
  abstract void handle(ReqT request);

  /** The node a request carries, or null when it has none. */
  abstract Node nodeOf(ReqT request);

  /** Sends what the diffs call for, in make-before-break order. Runs on the stream executor. */
  abstract void send(StoreSnapshot snapshot, Diff[] diffs);

  /** Called after the client rejected a (non-probe) response; delta streams start NACK isolation here. */
  void onNacked(TypeState state, Sent sent, String error) {}

  /** The client answered a NACK isolation probe ({@code error} null for an ACK); only delta streams send probes. */
  void onProbeAnswered(TypeState state, Sent probe, String error) {}

  /**
   * Continues the NACK isolation of a type when no probe is in flight: sends the next probe (true), or ends
   * the isolation (false) so the type's normal pushes resume. Runs in {@link #drain}.
   */
  boolean advanceIsolation(TypeState state, StoreSnapshot snapshot) {
    return false;
  }

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
    context.metrics().streamOpened();
    observer.request(1);
    admission.armFirstRequestDeadline(() -> run(this::onFirstRequestDeadline));
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
        run(() -> {
          if (!closed) {
            close(false, "client half-closed");
            observer.onCompleted();
          }
        });
      }
    };
  }

  private void onFirstRequestDeadline() {
    Refusal refusal = closed ? null : admission.firstRequestDeadlinePassed();
    if (refusal != null) {
      reject(refusal);
    }
  }

  private void onRequest(ReqT request) {
    if (closed || admission.deciding()) {
      // deciding cannot happen: nothing more is read until the authorization completes
      return;
    }
    if (admission.identity() != null) {
      process(request);
      return;
    }
    try {
      admission.onFirstRequest(nodeOf(request), this::run, () -> closed, refusal -> onVerdict(refusal, request));
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void onVerdict(Refusal refusal, ReqT request) {
    if (refusal != null) {
      reject(refusal);
      return;
    }
    publishInterest();
    context.register(this);
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
    long delay = admission.readDelayNanos();
    if (delay == 0) {
      observer.request(1);
    } else {
      context.schedule(() -> run(this::requestNext), delay);
    }
  }

  /** Ends the stream as {@code refusal} says. */
  final void reject(Refusal refusal) {
    close(false, refusal.closeReason());
    observer.onError(refusal.status().asRuntimeException());
  }

  final TypeState state(ResourceType type) {
    return types[type.ordinal()];
  }

  /**
   * Records a request's subscription for a type. When it changed (or is the first), ends the stream if the
   * client now subscribes to more names than allowed, and otherwise marks the type for a push.
   */
  final void subscribe(TypeState state, Subscription requested, boolean first) {
    state.markRequested();
    Subscription next = admission.admissible(state.type, requested);
    if (!first && next.equals(state.subscription())) {
      return;
    }
    state.subscribe(next);
    Refusal refusal = admission.subscribed(state.type, state.subscription().names());
    if (refusal != null) {
      reject(refusal);
      return;
    }
    publishInterest();
    state.publish();
    pending(state.type);
  }

  /** Marks a type as having pending work (on the stream executor; the caller drains). */
  final void pending(ResourceType type) {
    dirty.getAndUpdate(bits -> bits | bit(type));
  }

  /**
   * Store generation {@code generation} changed these types' resources for this client (from the store's
   * context): remembered as a cause of the next response of each type, then marked dirty.
   */
  final void markChanged(int typeBits, long generation) {
    for (TypeState state : types) {
      if ((typeBits & bit(state.type)) != 0) {
        state.changedBy(generation);
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

  /**
   * Which of {@code names} (listeners) the client has ACKed holding, and which it does not hold with no LDS
   * response in flight (issue 16: the node agent waits for both); see {@link TypeState#settled}. Computed on the
   * stream executor; never completes if the stream is closed (callers bound their wait).
   */
  CompletableFuture<TypeState.Settled> listenerAcks(Collection<String> names) {
    CompletableFuture<TypeState.Settled> result = new CompletableFuture<>();
    run(() -> result.complete(closed ? new TypeState.Settled(Set.of(), Set.of())
        : state(ResourceType.LISTENER).settled(names, protocol == XdsProtocol.DELTA)));
    return result;
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
      if (state.published().requested() && state.knownGeneration() < generation) {
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
    if (closed || identity() == null || !observer.isReady() || !sendOutgoing()) {
      // not ready: the onReady handler drains again; the dirty bits stay as they are
      return;
    }
    int bits = dirty.getAndSet(0);
    if (bits == 0) {
      return;
    }
    StoreSnapshot snapshot = context.snapshot();
    Diff[] diffs = new Diff[types.length];
    for (TypeState state : types) {
      if ((bits & bit(state.type)) == 0) {
        continue;
      }
      if (!state.requested()) {
        state.dropCauses();
        continue;
      }
      // one probe in flight at a time; its answer marks the type dirty again
      if (state.isolation() != null
          && (state.isolation().probeInFlight() || advanceIsolation(state, snapshot) || closed)) {
        continue;
      }
      Diff diff = state.diff(snapshot, identity(), context.layerChanges());
      diffs[state.type.ordinal()] = diff;
      if (!diff.missing.isEmpty()) {
        context.metrics().unknownResourceNames(diff.missing.size());
        log.info("node={} stream={} type={} subscribed to names the server does not hold: {}",
            nodeId(), id, state.type.shortName(), LoggedNames.of(diff.missing));
      }
    }
    send(snapshot, diffs);
    for (TypeState state : types) {
      Diff diff = diffs[state.type.ordinal()];
      if (diff != null) {
        // fold even when nothing was sent: the client holds what we sent, and what it was told is gone
        state.holds(diff.after(), snapshot.generation());
        state.publish();
      }
    }
  }

  final void close(boolean cancelled, String reason) {
    if (closed) {
      return;
    }
    closed = true;
    // release first: whoever sees the stream gone may open a new one from the same address
    admission.close();
    context.unregister(this);
    context.metrics().streamClosed(cancelled);
    NodeIdentity who = identity();
    if (who != null) {
      context.listener().onStreamClosed(who);
    }
    log.info("stream closed node={} stream={} protocol={} reason={}", nodeId(), id, protocol, reason);
  }

  final boolean isClosed() {
    return closed;
  }

  private void publishInterest() {
    NodeIdentity who = identity();
    if (who != null) {
      interest = Interest.of(who, types);
    }
  }

  /**
   * Which of this stream's types a store change touches, as a bit set. Called in the store's context;
   * reads only volatile, immutable state.
   */
  final int affectedTypes(StoreSnapshot snapshot, StoreChange change) {
    Interest current = interest;
    return current == null ? 0 : current.typesTouchedBy(snapshot, change);
  }

  static int bit(ResourceType type) {
    return 1 << type.ordinal();
  }

  final String nodeId() {
    return admission.nodeId();
  }

  /** Who the stream serves; null until it is authorized. */
  final NodeIdentity identity() {
    return admission.identity();
  }

  /** The stream's status for the admin layer; safe from any thread. */
  final StreamStatus status() {
    return StreamStatus.of(id, protocol, admission, connectedAtMillis, types, dirty.get(), context.quarantine());
  }
}
