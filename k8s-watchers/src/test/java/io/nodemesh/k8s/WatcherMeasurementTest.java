package io.nodemesh.k8s;

import static io.nodemesh.k8s.KubernetesWatchersTest.namespace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Measurements for the issue report, printed as {@code MEASURE ...} lines. Nothing here asserts a time: the
 * machine is shared, so the numbers are for reading, and the assertions only check that the work was done.
 */
class WatcherMeasurementTest {

  @Test
  void measuresTheTimeToSyncTenThousandPodsIntoAPublishedState() {
    int pods = 10_000;
    try (MockApiServer api = new MockApiServer()) {
      api.client().namespaces().resource(namespace("shop", true)).create();
      for (int i = 0; i < pods; i++) {
        api.createDirectly("/api/v1/namespaces/shop/pods", PodBurstTest.pod("shop", i, 100));
      }

      long start = System.nanoTime();
      try (WatcherHarness harness = new WatcherHarness(api.client())) {
        ClusterState state = harness.store.synced().join();
        long syncedMs = (System.nanoTime() - start) / 1_000_000;
        System.out.printf("MEASURE 10,000 pods: informers started -> first published ClusterState in %d ms%n",
            syncedMs);

        assertThat(state.pods()).hasSize(pods);
        assertThat(state.podsOnNode("node-7")).hasSize(pods / 100);
        assertThat(harness.published).hasSize(1);
        api.awaitWatchReplay(harness);
      }
    }
  }

  @Test
  void measuresWhatBuildingOneStateCostsWithThirtyThousandPods() {
    // every published state is a full ClusterState.build(): its cost bounds the store's event throughput
    ClusterState.Builder builder = ClusterState.builder(MeshOptions.DEFAULTS);
    for (int i = 0; i < 30_000; i++) {
      builder.putPod(Converters.pod(PodBurstTest.pod("ns-" + (i % 300), i, 1000)).value());
    }
    int rounds = 30;
    ClusterState state = null;
    for (int i = 0; i < rounds; i++) {
      state = builder.build(); // JIT warm-up
    }
    long start = System.nanoTime();
    for (int i = 0; i < rounds; i++) {
      state = builder.build();
    }
    long perBuildMicros = (System.nanoTime() - start) / rounds / 1000;
    System.out.printf("MEASURE ClusterState.build() with 30,000 pods: %d us per build%n", perBuildMicros);

    assertThat(state.pods()).hasSize(30_000);
  }

  @Test
  void measuresHowAThousandPodsCreatedThroughTheApiAreBatched() throws Exception {
    try (MockApiServer api = new MockApiServer();
        WatcherHarness harness = new WatcherHarness(api.client()).awaitSynced()) {
      await().atMost(WatcherHarness.DEADLINE).until(() -> harness.debouncer.batchesFlushed() == 1);
      int before = harness.batches.size();

      long start = System.nanoTime();
      PodBurstTest.createPodsThroughTheApi(api.client(), "shop", PodBurstTest.BURST, 50);
      long createdMs = (System.nanoTime() - start) / 1_000_000;
      List<StateUpdate> batches = PodBurstTest.awaitBatchHolding(harness, before, PodBurstTest.BURST);
      System.out.printf("MEASURE 1,000 pods created through the mock API (8 client threads, %d ms):"
          + " %d debounced batches%n", createdMs, batches.size());

      assertThat(batches.stream().mapToInt(b -> b.change().pods().size()).sum())
          .isGreaterThanOrEqualTo(PodBurstTest.BURST);
    }
  }
}
