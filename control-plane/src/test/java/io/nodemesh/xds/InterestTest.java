package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Which of a stream's types a store change wakes, read from its published interest alone. */
class InterestTest {

  private final ResourceStore store = new ResourceStore();
  private final AtomicReference<StoreSnapshot> snapshot = new AtomicReference<>();
  private final AtomicReference<StoreChange> change = new AtomicReference<>();

  InterestTest() {
    store.addListener((after, changed) -> {
      snapshot.set(after);
      change.set(changed);
    });
  }

  private int touched(Interest interest, UpdateBatch batch) throws Exception {
    store.apply(batch).get(10, TimeUnit.SECONDS);
    return interest.typesTouchedBy(snapshot.get(), change.get());
  }

  /** node-1's Envoy: wildcard LDS and CDS (its view), endpoints "a" by name, no routes. */
  private static Interest envoyOfNode1() {
    Subscription[] subscriptions = new Subscription[ResourceType.all().length];
    java.util.Arrays.fill(subscriptions, Subscription.NONE);
    subscriptions[ResourceType.LISTENER.ordinal()] = new Subscription(true, ImmutableSet.of());
    subscriptions[ResourceType.CLUSTER.ordinal()] = new Subscription(true, ImmutableSet.of());
    subscriptions[ResourceType.ENDPOINT.ordinal()] = new Subscription(false, ImmutableSet.of("a"));
    return new Interest(new NodeIdentity("envoy-1", "node-1", true), List.of(subscriptions));
  }

  @Test
  void aChangeWakesOnlyTheTypesWhoseNamesItTouches() throws Exception {
    Interest interest = envoyOfNode1();
    store.apply(UpdateBatch.builder()
        .put(cluster("a")).put(cluster("b")).put(endpoints("a", "10.0.0.1", 80)).put(endpoints("b", "10.0.0.1", 80))
        .put(listener("pod/default/p/outbound", "a"))
        .putNode("node-1", Set.of("pod/default/p/outbound"), Set.of("a"))
        .build()).get(10, TimeUnit.SECONDS);

    assertThat(touched(interest, UpdateBatch.builder().put(endpoints("b", "10.0.0.1", 81)).build()))
        .as("endpoints it did not name").isZero();
    assertThat(touched(interest, UpdateBatch.builder().put(endpoints("a", "10.0.0.1", 81)).build()))
        .isEqualTo(AdsStream.bit(ResourceType.ENDPOINT));
    assertThat(touched(interest, UpdateBatch.builder().put(cluster("b", 500)).build()))
        .as("a cluster outside node-1's view").isZero();
    assertThat(touched(interest, UpdateBatch.builder().put(cluster("a", 500)).build()))
        .isEqualTo(AdsStream.bit(ResourceType.CLUSTER));
    assertThat(touched(interest, UpdateBatch.builder().putNode("node-1", Set.of(), Set.of("a")).build()))
        .as("its view lost its listener").isEqualTo(AdsStream.bit(ResourceType.LISTENER));
  }

  @Test
  void anotherNodesViewWakesNothing() throws Exception {
    Interest interest = envoyOfNode1();

    assertThat(touched(interest, UpdateBatch.builder().put(listener("pod/default/q/outbound", "a"))
        .putNode("node-2", Set.of("pod/default/q/outbound"), Set.of()).build())).isZero();
  }

  @Test
  void aClientOfAZoneIsWokenByItsZonesVariantOfANameItAsksFor() throws Exception {
    Subscription[] subscriptions = new Subscription[ResourceType.all().length];
    java.util.Arrays.fill(subscriptions, Subscription.NONE);
    subscriptions[ResourceType.LISTENER.ordinal()] = new Subscription(false, ImmutableSet.of("greeter:50051"));
    NodeIdentity zoneA = new NodeIdentity("client", "", false, "sa:client", 1,
        com.google.common.collect.ImmutableList.of("node-1.node.", "zone-a.zone."));
    Interest interest = new Interest(zoneA, List.of(subscriptions));

    assertThat(touched(interest, UpdateBatch.builder().put(listener("zone-a.zone.greeter:50051", "a")).build()))
        .as("its zone's variant").isEqualTo(AdsStream.bit(ResourceType.LISTENER));
    assertThat(touched(interest, UpdateBatch.builder().put(listener("node-1.node.greeter:50051", "a")).build()))
        .as("its node's variant").isEqualTo(AdsStream.bit(ResourceType.LISTENER));
    assertThat(touched(interest, UpdateBatch.builder().put(listener("zone-b.zone.greeter:50051", "a")).build()))
        .as("another zone's variant").isZero();
    assertThat(touched(interest, UpdateBatch.builder().put(listener("zone-a.zone.other:50051", "a")).build()))
        .as("its zone's variant of a name it does not ask for").isZero();
    assertThat(touched(interest, UpdateBatch.builder().put(listener("greeter:50051", "a")).build()))
        .as("the name itself").isEqualTo(AdsStream.bit(ResourceType.LISTENER));

    // a batch larger than what the client asks for is searched for the client's variants, not scanned
    UpdateBatch.Builder resync = UpdateBatch.builder();
    for (int i = 0; i < 5; i++) {
      resync.put(listener("zone-a.zone.other-" + i + ":50051", "b"));
    }
    assertThat(touched(interest, resync.build())).as("a resync of other names").isZero();
    assertThat(touched(interest, resync.put(listener("zone-a.zone.greeter:50051", "b")).build()))
        .as("a resync with its variant").isEqualTo(AdsStream.bit(ResourceType.LISTENER));
  }
}
