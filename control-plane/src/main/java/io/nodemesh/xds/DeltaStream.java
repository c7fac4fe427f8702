package io.nodemesh.xds;

import com.google.common.collect.ImmutableSet;
import com.google.protobuf.CodedOutputStream;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * An incremental (delta) ADS stream: responses carry only resources the client lacks or holds in another
 * version, plus {@code removed_resources}; pushes larger than the max message size are split.
 */
final class DeltaStream extends AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {

  DeltaStream(
      long id,
      XdsServer server,
      ServerCallStreamObserver<DeltaDiscoveryResponse> observer,
      Executor executor,
      String peer) {
    super(id, server, observer, executor, peer);
  }

  @Override
  String protocol() {
    return "delta";
  }

  @Override
  void handle(DeltaDiscoveryRequest request) {
    if (!identify(request.hasNode(), request.getNode())) {
      return;
    }
    Optional<ResourceType> type = ResourceType.fromTypeUrl(request.getTypeUrl());
    if (type.isEmpty()) {
      unknownType(request.getTypeUrl());
      return;
    }
    TypeState state = state(type.get());
    if (!request.getResponseNonce().isEmpty()) {
      // in delta, subscription changes stand on their own: process them whatever the nonce says
      onResponseNonce(
          state, request.getResponseNonce(), request.hasErrorDetail() ? request.getErrorDetail() : null, false);
    }
    boolean first = !state.requested;
    if (request.getInitialResourceVersionsCount() > 0) {
      if (first) {
        state.known = Diff.Known.declared(request.getInitialResourceVersionsMap());
      } else {
        malformed("initial_resource_versions for " + type.get().shortName() + " after the first request; ignored");
      }
    }
    Subscription current = state.subscription;
    boolean wildcard = current.wildcard();
    Set<String> names = current.names();
    if (first && request.getResourceNamesSubscribeCount() == 0 && type.get().fullState()) {
      wildcard = true;
      state.legacyWildcard = true;
    }
    if (request.getResourceNamesSubscribeCount() > 0 || request.getResourceNamesUnsubscribeCount() > 0) {
      names = new LinkedHashSet<>(current.names());
      boolean star = false;
      for (String name : request.getResourceNamesSubscribeList()) {
        if (name.equals("*")) {
          star = true;
        } else {
          names.add(name);
        }
      }
      if (star) {
        wildcard = true;
        state.legacyWildcard = false;
      } else if (state.legacyWildcard && request.getResourceNamesSubscribeCount() > 0) {
        // naming resources ends a legacy (implicit) wildcard; "*" must be named to keep it
        wildcard = false;
        state.legacyWildcard = false;
      }
      for (String name : request.getResourceNamesUnsubscribeList()) {
        if (name.equals("*")) {
          wildcard = false;
          state.legacyWildcard = false;
        } else {
          names.remove(name);
        }
      }
    }
    Subscription next = new Subscription(wildcard, server.internNames(ImmutableSet.copyOf(names)));
    state.requested = true;
    if (first && wildcard && request.getInitialResourceVersionsCount() == 0) {
      // a fresh client waits for its first wildcard answer, even an empty one; a reconnecting one
      // (initial versions) needs nothing when nothing changed
      state.responseOwed = true;
    }
    if (first || !next.equals(current)) {
      state.subscription = current.reuseIfEqual(next);
      subscriptionChanged(state);
    }
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
      if (diff.upserts.isEmpty() && removed.isEmpty() && !state.responseOwed) {
        continue;
      }
      if (!sendSplit(state, diff.upserts, removed, Versions.ofSum(sum), generation)) {
        return;
      }
    }
    if (deferRemovals) {
      for (ResourceType type : new ResourceType[] {ResourceType.CLUSTER, ResourceType.ENDPOINT}) {
        Diff diff = diffs[type.ordinal()];
        if (diff != null && !diff.removals.isEmpty()) {
          if (!sendSplit(state(type), List.of(), diff.removals, Versions.ofSum(diff.sum), generation)) {
            return;
          }
        }
      }
    }
  }

  private static boolean hasRemovals(Diff[] diffs, ResourceType type) {
    Diff diff = diffs[type.ordinal()];
    return diff != null && !diff.removals.isEmpty();
  }

  /**
   * Sends resources and removals in as many responses as needed to keep each under the max message size.
   * A single resource larger than the limit still goes out, alone, with a warning.
   */
  private boolean sendSplit(
      TypeState state, List<Resource> upserts, List<String> removed, String version, long generation) {
    int budget = XdsTunables.MAX_RESPONSE_BYTES - XdsTunables.RESPONSE_ENVELOPE_BYTES;
    DeltaDiscoveryResponse.Builder response = DeltaDiscoveryResponse.newBuilder();
    int bytes = 0;
    int parts = 1;
    for (Resource resource : upserts) {
      int size = CodedOutputStream.computeTagSize(DeltaDiscoveryResponse.RESOURCES_FIELD_NUMBER)
          + CodedOutputStream.computeUInt32SizeNoTag(resource.deltaSerializedSize()) + resource.deltaSerializedSize();
      if (bytes > 0 && bytes + size > budget) {
        if (!flush(state, response, version, generation)) {
          return false;
        }
        response = DeltaDiscoveryResponse.newBuilder();
        bytes = 0;
        parts++;
      }
      response.addResources(resource.deltaResource());
      bytes += size;
    }
    for (String name : removed) {
      int size = CodedOutputStream.computeStringSize(DeltaDiscoveryResponse.REMOVED_RESOURCES_FIELD_NUMBER, name);
      if (bytes > 0 && bytes + size > budget) {
        if (!flush(state, response, version, generation)) {
          return false;
        }
        response = DeltaDiscoveryResponse.newBuilder();
        bytes = 0;
        parts++;
      }
      response.addRemovedResources(name);
      bytes += size;
    }
    if (parts > 1) {
      server.metricsInternal().splitResponse();
      log.info(
          "node={} stream={} type={} push split into {} responses to stay under {} bytes",
          nodeId(), id, state.type.shortName(), parts, XdsTunables.MAX_RESPONSE_BYTES);
    }
    return flush(state, response, version, generation);
  }

  private boolean flush(TypeState state, DeltaDiscoveryResponse.Builder builder, String version, long generation) {
    long nonce = nextNonce();
    DeltaDiscoveryResponse response =
        builder
            .setTypeUrl(state.type.typeUrl())
            .setSystemVersionInfo(version)
            .setNonce(Long.toString(nonce))
            .build();
    return respond(
        state,
        response,
        nonce,
        version,
        generation,
        response.getSerializedSize(),
        response.getResourcesCount(),
        response.getRemovedResourcesCount());
  }
}
