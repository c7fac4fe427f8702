package io.nodemesh.xds;

import java.util.List;

/**
 * What a stream's client asked for, as the store's change listener reads it to decide which of the stream's types
 * a change wakes. Immutable: published by the stream executor, read in the store's context. The rule itself is
 * {@link Scope#touchedBy}; this only skips the types a change cannot touch before any lookup.
 *
 * @param who the client (the node whose view it receives, its locality)
 * @param subscriptions per {@link ResourceType#ordinal()}, {@link Subscription#NONE} for a type not requested
 */
record Interest(NodeIdentity who, List<Subscription> subscriptions) {

  /** What {@code types} (indexed by ordinal) ask for, for {@code who}. */
  static Interest of(NodeIdentity who, TypeState[] types) {
    Subscription[] subscriptions = new Subscription[types.length];
    for (TypeState state : types) {
      subscriptions[state.type.ordinal()] = state.requested() ? state.subscription() : Subscription.NONE;
    }
    return new Interest(who, List.of(subscriptions));
  }

  /** Which types (as bits of {@link AdsStream#bit}) {@code change} touches; called for every stream on every change. */
  int typesTouchedBy(StoreSnapshot snapshot, StoreChange change) {
    String nodeName = who.nodeName();
    boolean viewChanged = !change.changedViews().isEmpty() && change.changedViews().containsKey(nodeName);
    int bits = 0;
    for (ResourceType type : ResourceType.all()) {
      Subscription subscription = subscriptions.get(type.ordinal());
      if (subscription.isEmpty() || change.changed(type).isEmpty() && !(viewChanged && type.fullState())) {
        continue;
      }
      if (Scope.touchedBy(type, subscription, change, snapshot, nodeName, who.localPrefixes(type))) {
        bits |= AdsStream.bit(type);
      }
    }
    return bits;
  }
}
