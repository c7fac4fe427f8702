package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The quarantine's bounds and bookkeeping under the threads that really touch it: stream executors add and
 * forget entries while the store context sweeps. Renovation issue 19 found the bounds checked before the put
 * and the sweep racing adds; with one lock over every change the total stays exact and never passes a bound.
 */
class QuarantineTest {

  private static final int MAX_PER_CLIENT = 5;
  private static final int MAX_TOTAL = 40;

  private static Quarantine.Entry entry(String principal, int resource, String version) {
    return new Quarantine.Entry(principal, "envoy-" + principal, ResourceType.LISTENER, "pod/ns/p" + resource
        + "/outbound", version, "rejected", 0);
  }

  private static StoreSnapshot snapshotWithListeners(int count) throws Exception {
    ResourceStore store = new ResourceStore();
    UpdateBatch.Builder batch = UpdateBatch.builder();
    for (int i = 0; i < count; i++) {
      batch.put(TestResources.listener("pod/ns/p" + i + "/outbound", "c"));
    }
    store.apply(batch.build()).get(10, TimeUnit.SECONDS);
    return store.snapshot();
  }

  @Test
  void manyStreamsAddingAtOnceNeverPassTheBoundsAndTheTotalStaysExact() throws Exception {
    Quarantine quarantine = new Quarantine(MAX_PER_CLIENT, MAX_TOTAL);
    StoreSnapshot snapshot = snapshotWithListeners(20);
    String[] versions = new String[20];
    for (int i = 0; i < 20; i++) {
      versions[i] = snapshot.table(ResourceType.LISTENER).get("pod/ns/p" + i + "/outbound").version();
    }
    ExecutorService threads = Executors.newFixedThreadPool(8);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> work = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int thread = t;
      work.add(threads.submit(() -> {
        go.await();
        for (int i = 0; i < 2_000; i++) {
          // 16 principals, each wanting up to 20 entries: far more than either bound allows
          quarantine.add(entry("principal-" + ((thread * 2_000 + i) % 16), i % 20, versions[i % 20]), i);
          if (i % 7 == 0) {
            quarantine.sweep(snapshot, Set.of("principal-1", "principal-2"), i, 1_000_000);
          }
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> each : work) {
      each.get(60, TimeUnit.SECONDS);
    }
    threads.shutdown();

    List<Quarantine.Entry> all = quarantine.all();
    assertThat(quarantine.size()).as("the total is the entries held").isEqualTo(all.size());
    assertThat(all.size()).isLessThanOrEqualTo(MAX_TOTAL);
    assertThat(all.stream().collect(Collectors.groupingBy(Quarantine.Entry::principal, Collectors.counting()))
        .values()).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo((long) MAX_PER_CLIENT));
    assertThat(all.size()).as("the bounds filled up").isEqualTo(MAX_TOTAL);
  }

  @Test
  void aClientThatLeftIsForgottenAfterTheGracePeriodAndALiveOneIsKept() throws Exception {
    Quarantine quarantine = new Quarantine(MAX_PER_CLIENT, MAX_TOTAL);
    StoreSnapshot snapshot = snapshotWithListeners(2);
    String version = snapshot.table(ResourceType.LISTENER).get("pod/ns/p0/outbound").version();
    quarantine.add(entry("gone", 0, version), 1_000);
    quarantine.add(entry("live", 0, version), 1_000);

    quarantine.sweep(snapshot, Set.of("live"), 1_500, 1_000);
    assertThat(quarantine.all()).extracting(Quarantine.Entry::principal).containsExactly("gone", "live");

    quarantine.sweep(snapshot, Set.of("live"), 2_001, 1_000);
    assertThat(quarantine.all()).extracting(Quarantine.Entry::principal).containsExactly("live");
    assertThat(quarantine.size()).isEqualTo(1);
  }

  @Test
  void aNameServedFromAnotherLocalityIsAnotherEntry() {
    Quarantine quarantine = new Quarantine(MAX_PER_CLIENT, MAX_TOTAL);
    com.google.common.collect.ImmutableList<String> zoneA = com.google.common.collect.ImmutableList.of("zone-a.zone.");
    NodeIdentity located = new NodeIdentity("app", "", false, "sa:app", 1, zoneA);
    NodeIdentity unlocated = new NodeIdentity("app", "", false, "sa:app", 2);
    quarantine.add(new Quarantine.Entry("sa:app", "app", ResourceType.LISTENER, "web:80", "variant-version",
        "rejected", 0, zoneA), 0);
    Resource base = Resource.of(TestResources.apiListener("web:80", "base-routes"));

    // the same principal and node.id, served the base under that name: not withheld, and the entry stays
    assertThat(quarantine.withheld(unlocated, base)).isFalse();
    assertThat(quarantine.of(unlocated, ResourceType.LISTENER)).isEmpty();
    assertThat(quarantine.of(located, ResourceType.LISTENER)).extracting(Quarantine.Entry::version)
        .containsExactly("variant-version");
  }

  @Test
  void anEntryGoesOnceItsResourceChangesOrDisappears() throws Exception {
    Quarantine quarantine = new Quarantine(MAX_PER_CLIENT, MAX_TOTAL);
    StoreSnapshot snapshot = snapshotWithListeners(2);
    String version = snapshot.table(ResourceType.LISTENER).get("pod/ns/p0/outbound").version();
    quarantine.add(entry("live", 0, version), 0);
    quarantine.add(entry("live", 1, "an-older-version"), 0);
    quarantine.add(entry("live", 7, version), 0);

    quarantine.sweep(snapshot, Set.of("live"), 10, 1_000);

    assertThat(quarantine.all()).extracting(Quarantine.Entry::name).containsExactly("pod/ns/p0/outbound");
    assertThat(quarantine.size()).isEqualTo(1);
  }
}
