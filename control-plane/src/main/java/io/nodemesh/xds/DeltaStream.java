package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import com.google.protobuf.CodedOutputStream;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * An incremental (delta) ADS stream: responses carry only resources the client lacks or holds in another
 * version, plus {@code removed_resources}; pushes larger than the max message size are split, and the parts of
 * a split push go out only as fast as the client reads them (a slow client holds references to resources the
 * store already has, never a backlog of serialized responses).
 */
final class DeltaStream extends AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {

  /**
   * What remains to be sent of one type's push, in order: upserts, then removals. Parts are cut from it when
   * the client can take them.
   */
  private static final class Outgoing {
    final TypeState state;
    final List<Resource> upserts;
    final List<String> removed;
    final String version;
    final long generation;
    int nextUpsert;
    int nextRemoved;
    int parts;

    Outgoing(TypeState state, List<Resource> upserts, List<String> removed, String version, long generation) {
      this.state = state;
      this.upserts = upserts;
      this.removed = removed;
      this.version = version;
      this.generation = generation;
    }

    boolean done() {
      return parts > 0 && nextUpsert == upserts.size() && nextRemoved == removed.size();
    }
  }

  /** Pushes computed and folded into what the client holds, not yet (completely) written; FIFO. */
  private final ArrayDeque<Outgoing> outgoing = new ArrayDeque<>();

  DeltaStream(
      long id,
      StreamContext context,
      ServerCallStreamObserver<DeltaDiscoveryResponse> observer,
      Executor executor,
      ClientConnection connection,
      XdsServer.Slot slot) {
    super(id, XdsProtocol.DELTA, context, observer, executor, connection, slot);
  }

  @Override
  Node nodeOf(DeltaDiscoveryRequest request) {
    return request.hasNode() ? request.getNode() : null;
  }

  @Override
  void handle(DeltaDiscoveryRequest request) {
    TypeState state =
        triage.typeOf(
            request.getTypeUrl(), request.getResponseNonce(),
            request.hasErrorDetail() ? request.getErrorDetail() : null, false);
    if (state == null) {
      return;
    }
    boolean first = !state.requested();
    if (request.getInitialResourceVersionsCount() > 0) {
      if (first) {
        state.declared(Diff.Known.declared(request.getInitialResourceVersionsMap()));
      } else {
        triage.malformed(
            "initial_resource_versions for " + state.type.shortName() + " after the first request; ignored");
      }
    }
    Subscription current = state.subscription();
    boolean wildcard = current.wildcard();
    Set<String> names = current.names();
    if (first && request.getResourceNamesSubscribeCount() == 0 && state.type.fullState()) {
      wildcard = true;
      state.startLegacyWildcard();
    }
    if (request.getResourceNamesSubscribeCount() > 0 || request.getResourceNamesUnsubscribeCount() > 0) {
      names = new LinkedHashSet<>(current.names());
      boolean star = false;
      for (String name : request.getResourceNamesSubscribeList()) {
        if (name.equals("*")) {
          star = true;
        } else if (admission.subscribable(state.type, name)) {
          names.add(name);
        }
      }
      if (star) {
        wildcard = true;
        state.endLegacyWildcard();
      } else if (state.legacyWildcard() && request.getResourceNamesSubscribeCount() > 0) {
        // naming resources ends a legacy (implicit) wildcard; "*" must be named to keep it
        wildcard = false;
        state.endLegacyWildcard();
      }
      for (String name : request.getResourceNamesUnsubscribeList()) {
        if (name.equals("*")) {
          wildcard = false;
          state.endLegacyWildcard();
        } else {
          names.remove(name);
        }
      }
    }
    Subscription next = new Subscription(wildcard, context.internNames(ImmutableSet.copyOf(names)));
    if (first && wildcard && request.getInitialResourceVersionsCount() == 0) {
      // a fresh client waits for its first wildcard answer, even an empty one; a reconnecting one
      // (initial versions) needs nothing when nothing changed
      state.oweFirstResponse();
    }
    subscribe(state, next, first);
  }

  @Override
  void send(StoreSnapshot snapshot, Diff[] diffs) {
    Diff listeners = diffs[ResourceType.LISTENER.ordinal()];
    Diff routes = diffs[ResourceType.ROUTE.ordinal()];
    boolean usersChange = (listeners != null && !listeners.isEmpty()) || (routes != null && !routes.isEmpty());
    // make-before-break: cluster and endpoint removals wait until listeners and routes were updated
    boolean deferRemovals = usersChange && (hasRemovals(diffs, ResourceType.CLUSTER) || hasRemovals(diffs, ResourceType.ENDPOINT));
    long generation = snapshot.generation();
    for (ResourceType type : ResourceType.all()) {
      Diff diff = diffs[type.ordinal()];
      if (diff == null) {
        continue;
      }
      TypeState state = state(type);
      if (!context.quarantine().isEmpty(identity())) {
        context.quarantine().forgetStale(identity(), type, snapshot.tableFor(type, identity()));
      }
      List<Resource> upserts = withoutQuarantined(diff.upserts);
      boolean deferHere = deferRemovals && (type == ResourceType.CLUSTER || type == ResourceType.ENDPOINT);
      List<String> removed = new ArrayList<>(diff.missing);
      long sum = diff.sum;
      if (deferHere) {
        for (Resource kept : diff.removedResources) {
          sum += kept.pairHash();
        }
      } else {
        removed.addAll(diff.removals);
      }
      if (upserts.isEmpty() && removed.isEmpty() && !state.responseOwed()) {
        continue;
      }
      outgoing.addLast(new Outgoing(state, upserts, removed, Versions.ofSum(sum), generation));
    }
    if (deferRemovals) {
      for (ResourceType type : new ResourceType[] {ResourceType.CLUSTER, ResourceType.ENDPOINT}) {
        Diff diff = diffs[type.ordinal()];
        if (diff != null && !diff.removals.isEmpty()) {
          outgoing.addLast(new Outgoing(state(type), List.of(), diff.removals, Versions.ofSum(diff.sum), generation));
        }
      }
    }
    sendOutgoing();
  }

  /**
   * Writes the parts of queued pushes while the client can take them. Returns true when nothing is left; false
   * when the client is not ready (its onReady handler drains again) or the stream is gone.
   */
  @Override
  boolean sendOutgoing() {
    Outgoing next;
    while ((next = outgoing.peekFirst()) != null) {
      if (isClosed()) {
        outgoing.clear();
        return false;
      }
      if (next.parts > 0 && !observer.isReady()) {
        context.metrics().pausedSend();
        return false;
      }
      if (!sendPart(next)) {
        outgoing.clear();
        return false;
      }
      if (next.done()) {
        outgoing.pollFirst();
        if (next.parts > 1) {
          log.info("node={} stream={} type={} push split into {} responses to stay under {} bytes",
              nodeId(), id, next.state.type.shortName(), next.parts, context.options().maxResponseBytes());
        }
        if (!outgoing.isEmpty() && !observer.isReady()) {
          context.metrics().pausedSend();
          return false;
        }
      }
    }
    return true;
  }

  /**
   * The resources to send, minus those this client rejected before (NACK isolation) in the same version:
   * they stay withheld until their content changes.
   */
  private List<Resource> withoutQuarantined(List<Resource> upserts) {
    Quarantine quarantine = context.quarantine();
    if (upserts.isEmpty() || quarantine.isEmpty(identity())) {
      return upserts;
    }
    List<Resource> kept = new ArrayList<>(upserts.size());
    for (Resource resource : upserts) {
      if (quarantine.withheld(identity(), resource)) {
        log.debug("node={} stream={} withholding quarantined {} {} version {}",
            nodeId(), id, resource.type().shortName(), resource.name(), resource.version());
      } else {
        kept.add(resource);
      }
    }
    return kept;
  }

  @Override
  void onNacked(TypeState state, AckTracker.Sent sent, String error) {
    if (context.options().isolationMaxProbes() == 0 || sent.resources().isEmpty()) {
      return;
    }
    if (state.isolation() == null) {
      log.info(
          "node={} stream={} type={} NACK isolation: looking for the rejected resource(s) among {}",
          nodeId(), id, state.type.shortName(), sent.resources().size());
    }
    state.isolate(sent.generation()).rejected(sent.resources(), error);
    state.publish();
    pending(state.type);
  }

  @Override
  void onProbeAnswered(TypeState state, AckTracker.Sent probe, String error) {
    log.info(
        "node={} stream={} type={} NACK isolation: probe nonce={} with {} resource(s) {}",
        nodeId(), id, state.type.shortName(), probe.nonce(), probe.resources().size(),
        error == null ? "ACKed" : "rejected: " + SafeText.of(error));
    NackIsolation isolation = state.isolation();
    if (isolation != null && isolation.awaits(probe.nonce())) {
      isolation.answered(error);
      pending(state.type);
    }
  }

  @Override
  boolean advanceIsolation(TypeState state, StoreSnapshot snapshot) {
    NackIsolation isolation = state.isolation();
    ResourceTable table = snapshot.tableFor(state.type, identity());
    Scope scope = Scope.resolve(state.type, state.subscription(), snapshot, identity().nodeName());
    Quarantine quarantine = context.quarantine();
    boolean abandoned = false;
    NackIsolation.Task task;
    while ((task = isolation.next()) != null) {
      // only what the client should still get in that version: changed, removed or unsubscribed resources
      // take the normal path once the isolation is over
      List<Resource> current = new ArrayList<>(task.resources.size());
      for (Resource resource : task.resources) {
        Resource now = table.get(resource.name());
        if (now != null && now.version().equals(resource.version()) && scope.contains(resource.name())
            && !quarantine.withheld(identity(), resource)) {
          current.add(resource);
        }
      }
      if (current.isEmpty()) {
        continue;
      }
      if (NackIsolation.stillKnownBad(task, current)) {
        if (current.size() == 1) {
          quarantine(state, current.get(0), task.error(), isolation);
        } else {
          isolation.split(task, current);
        }
        continue;
      }
      if (isolation.probes() >= context.options().isolationMaxProbes()) {
        abandoned = true;
        break;
      }
      return sendProbe(state, isolation, task.probe(current), snapshot.generation());
    }
    state.endIsolation();
    if (abandoned) {
      context.metrics().isolationAbandoned();
      int left = isolation.abandon() + 1;
      log.warn(
          "node={} stream={} type={} NACK isolation gave up after {} probes (--xds-nack-isolation-max-probes);"
              + " {} set(s) of resources stay unsent until their content changes",
          nodeId(), id, state.type.shortName(), isolation.probes(), left);
      state.acks.isolationAbandoned();
    } else {
      state.acks.isolationDone(isolation.generation, context.clock().millis(),
          !quarantine.of(identity(), state.type).isEmpty());
      if (isolation.ackedProbes() > 0) {
        context.listener().onAck(identity(), state.type, isolation.generation, List.of());
      }
      log.info(
          "node={} stream={} type={} NACK isolation done: {} probe(s), {} resource(s) quarantined",
          nodeId(), id, state.type.shortName(), isolation.probes(), isolation.quarantined());
    }
    state.publish();
    return false;
  }

  private boolean sendProbe(TypeState state, NackIsolation isolation, NackIsolation.Task probe, long generation) {
    long nonce = triage.nextNonce();
    String version = state.acks.sentVersion();
    DeltaDiscoveryResponse.Builder builder = DeltaDiscoveryResponse.newBuilder()
        .setTypeUrl(state.type.typeUrl())
        .setSystemVersionInfo(version)
        .setNonce(Long.toString(nonce));
    for (Resource resource : probe.resources) {
      builder.addResources(resource.deltaResource());
    }
    DeltaDiscoveryResponse response = builder.build();
    isolation.probing(probe, nonce);
    context.metrics().isolationProbe();
    log.info(
        "node={} stream={} type={} NACK isolation: probe {} re-sends {} resource(s) {}",
        nodeId(), id, state.type.shortName(), isolation.probes(), probe.resources.size(),
        LoggedNames.of(probe.resources.stream().map(Resource::name).toList()));
    boolean sent = responses.write(state, response, nonce, version, generation, response.getSerializedSize(),
        probe.resources, List.of(), probe.resources.size(), 0, true);
    state.publish();
    return sent;
  }

  private void quarantine(TypeState state, Resource resource, String error, NackIsolation isolation) {
    long now = context.clock().millis();
    NodeIdentity who = identity();
    Quarantine.Entry entry = new Quarantine.Entry(
        who.principal(), who.nodeId(), state.type, resource.name(), resource.version(), error, now,
        who.localPrefixes(state.type));
    Quarantine.Refusal full = context.quarantine().add(entry, now);
    if (full != null) {
      context.metrics().quarantineFull();
      long suppressed = context.limitLog().admit();
      if (suppressed >= 0) {
        log.warn(
            "node={} stream={} type={} rejects {} (version {}) but the quarantine is full ({}: {} entries per"
                + " principal, {} in all); the resource stays unsent until its content changes{}",
            nodeId(), id, state.type.shortName(), resource.name(), resource.version(), full,
            context.options().quarantineMaxPerClient(), context.options().quarantineMaxTotal(),
            LogThrottle.suppressedNote(suppressed));
      }
      return;
    }
    isolation.quarantinedOne();
    context.metrics().quarantined();
    log.warn(
        "QUARANTINE node={} nodeName={} stream={} type={} resource={} version={}: withheld from this client until"
            + " its content changes; error={}",
        nodeId(), admission.nodeName(), id, state.type.shortName(), resource.name(), resource.version(),
        SafeText.of(error));
    context.listener().onQuarantine(identity(), entry);
  }

  private static boolean hasRemovals(Diff[] diffs, ResourceType type) {
    Diff diff = diffs[type.ordinal()];
    return diff != null && !diff.removals.isEmpty();
  }

  /**
   * Sends the next part of {@code push}: as many of its remaining upserts, then removals, as fit under the max
   * message size. A single resource larger than the limit still goes out, alone, with a warning.
   */
  private boolean sendPart(Outgoing push) {
    int budget = context.options().maxResponseBytes() - XdsTunables.RESPONSE_ENVELOPE_BYTES;
    DeltaDiscoveryResponse.Builder response = DeltaDiscoveryResponse.newBuilder();
    int bytes = 0;
    int from = push.nextUpsert;
    while (push.nextUpsert < push.upserts.size()) {
      Resource resource = push.upserts.get(push.nextUpsert);
      int size = CodedOutputStream.computeTagSize(DeltaDiscoveryResponse.RESOURCES_FIELD_NUMBER)
          + CodedOutputStream.computeUInt32SizeNoTag(resource.deltaSerializedSize()) + resource.deltaSerializedSize();
      if (bytes > 0 && bytes + size > budget) {
        break;
      }
      response.addResources(resource.deltaResource());
      bytes += size;
      push.nextUpsert++;
    }
    List<Resource> carried = push.upserts.subList(from, push.nextUpsert);
    int fromRemoved = push.nextRemoved;
    while (push.nextUpsert == push.upserts.size() && push.nextRemoved < push.removed.size()) {
      String name = push.removed.get(push.nextRemoved);
      int size = CodedOutputStream.computeStringSize(DeltaDiscoveryResponse.REMOVED_RESOURCES_FIELD_NUMBER, name);
      if (bytes > 0 && bytes + size > budget) {
        break;
      }
      response.addRemovedResources(name);
      bytes += size;
      push.nextRemoved++;
    }
    push.parts++;
    if (push.parts == 2) {
      context.metrics().splitResponse();
    }
    return flush(push.state, response, push.version, push.generation, carried,
        push.removed.subList(fromRemoved, push.nextRemoved));
  }

  private boolean flush(
      TypeState state, DeltaDiscoveryResponse.Builder builder, String version, long generation,
      List<Resource> carried, List<String> removedNames) {
    long nonce = triage.nextNonce();
    DeltaDiscoveryResponse response =
        builder
            .setTypeUrl(state.type.typeUrl())
            .setSystemVersionInfo(version)
            .setNonce(Long.toString(nonce))
            .build();
    return responses.write(
        state,
        response,
        nonce,
        version,
        generation,
        response.getSerializedSize(),
        carried,
        removedNames,
        response.getResourcesCount(),
        response.getRemovedResourcesCount(),
        false);
  }
}
