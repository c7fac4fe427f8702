package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A state-of-the-world ADS stream. LDS and CDS responses carry every resource the client should hold
 * (absence means removal); EDS and RDS responses carry only the named resources that changed.
 * {@code version_info} is the type version of what the client holds after the response.
 */
final class SotwStream extends AdsStream<DiscoveryRequest, DiscoveryResponse> {

  SotwStream(
      long id, StreamContext context, ServerCallStreamObserver<DiscoveryResponse> observer, Executor executor,
      ClientConnection connection, XdsServer.Slot slot) {
    super(id, XdsProtocol.SOTW, context, observer, executor, connection, slot);
  }

  @Override
  Node nodeOf(DiscoveryRequest request) {
    return request.hasNode() ? request.getNode() : null;
  }

  @Override
  void handle(DiscoveryRequest request) {
    TypeState state =
        triage.typeOf(
            request.getTypeUrl(), request.getResponseNonce(),
            request.hasErrorDetail() ? request.getErrorDetail() : null, true);
    if (state == null) {
      return;
    }
    boolean first = !state.requested();
    if (first && !request.getVersionInfo().isEmpty()) {
      state.claimVersion(request.getVersionInfo());
    }
    Subscription next = subscription(state, request.getResourceNamesList(), first);
    if (first && state.type.fullState()) {
      // Envoy's init (and grpc's resource timers) wait for the first LDS/CDS answer, even an empty one
      state.oweFirstResponse();
    }
    subscribe(state, next, first);
  }

  private Subscription subscription(TypeState state, List<String> names, boolean first) {
    boolean star = names.contains("*");
    ImmutableSet<String> explicit =
        context.internNames(
            names.stream()
                .filter(n -> !n.equals("*") && admission.subscribable(state.type, n))
                .collect(ImmutableSet.toImmutableSet()));
    if (star) {
      state.endLegacyWildcard();
      return new Subscription(true, explicit);
    }
    if (explicit.isEmpty() && names.stream().anyMatch(n -> !n.equals("*")) && !star) {
      // every name was refused (node-private): the client asked for those names, not for a wildcard
      state.endLegacyWildcard();
      return Subscription.NONE;
    }
    if (explicit.isEmpty()) {
      // an empty list is a (legacy) wildcard only for LDS/CDS on the first request, and stays one; for
      // EDS/RDS it means "nothing"
      if (state.type.fullState() && (first || state.legacyWildcard())) {
        state.startLegacyWildcard();
        return new Subscription(true, explicit);
      }
      return Subscription.NONE;
    }
    state.endLegacyWildcard();
    return new Subscription(false, explicit);
  }

  @Override
  void send(StoreSnapshot snapshot, Diff[] diffs) {
    Diff clusters = diffs[ResourceType.CLUSTER.ordinal()];
    Diff listeners = diffs[ResourceType.LISTENER.ordinal()];
    Diff routes = diffs[ResourceType.ROUTE.ordinal()];
    // make-before-break: clusters leave only after listeners/routes that may use them were updated, so the
    // first CDS response still carries the clusters about to go
    boolean deferClusterRemovals =
        clusters != null
            && !clusters.removals.isEmpty()
            && ((listeners != null && !listeners.isEmpty()) || (routes != null && !routes.isEmpty()));
    for (ResourceType type : ResourceType.all()) {
      Diff diff = diffs[type.ordinal()];
      if (diff == null) {
        continue;
      }
      TypeState state = state(type);
      if (clientAlreadyHolds(state, diff)) {
        continue;
      }
      if (type.fullState()) {
        if (diff.isEmpty() && !state.responseOwed()) {
          continue;
        }
        List<Resource> keep =
            type == ResourceType.CLUSTER && deferClusterRemovals ? diff.removedResources : List.of();
        if (!sendFullState(state, diff, keep, snapshot.generation())) {
          return;
        }
      } else if (!diff.upserts.isEmpty()) {
        // a SotW client cannot be told that an EDS/RDS resource is gone; it keeps the last one
        if (!sendResources(state, diff.upserts, Versions.ofSum(diff.sum), snapshot.generation(), 0)) {
          return;
        }
      }
    }
    if (deferClusterRemovals) {
      sendFullState(state(ResourceType.CLUSTER), clusters, List.of(), snapshot.generation());
    }
  }

  /**
   * A reconnecting client (to this or another replica) names the version it holds; versions are content
   * hashes, so if it equals what we would send, sending it again would only cost bandwidth.
   */
  private boolean clientAlreadyHolds(TypeState state, Diff diff) {
    String claimed = state.takeClaimedVersion();
    if (claimed == null || !claimed.equals(Versions.ofSum(diff.sum))) {
      return false;
    }
    state.acks.heldFromEarlierStream(claimed, context.clock().millis());
    log.debug(
        "node={} stream={} type={} already holds version {}; nothing to send",
        nodeId(), id, state.type.shortName(), claimed);
    return true;
  }

  private boolean sendFullState(TypeState state, Diff diff, List<Resource> keep, long generation) {
    List<Resource> resources = new ArrayList<>();
    diff.scope.forEachName(
        diff.table,
        name -> {
          Resource resource = diff.table.get(name);
          if (resource != null) {
            resources.add(resource);
          }
        });
    long sum = diff.sum;
    for (Resource kept : keep) {
      resources.add(kept);
      sum += kept.pairHash();
    }
    return sendResources(state, resources, Versions.ofSum(sum), generation, keep.isEmpty() ? diff.removals.size() : 0);
  }

  private boolean sendResources(
      TypeState state, List<Resource> resources, String version, long generation, int removed) {
    long nonce = triage.nextNonce();
    List<Any> packed = new ArrayList<>(resources.size());
    for (Resource resource : resources) {
      packed.add(resource.any());
    }
    DiscoveryResponse response =
        DiscoveryResponse.newBuilder()
            .setVersionInfo(version)
            .setTypeUrl(state.type.typeUrl())
            .setNonce(Long.toString(nonce))
            .addAllResources(packed)
            .build();
    return responses.write(state, response, nonce, version, generation, response.getSerializedSize(), List.of(),
        List.of(), resources.size(), removed, false);
  }
}
