package io.nodemesh.k8s;

import static io.nodemesh.k8s.KubernetesWatchersTest.namespace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PodBurstTest {

  static final int BURST = 1000;

  /**
   * A quiet period far longer than any gap between events of one watch stream, so that only a stall of the
   * whole machine can split the burst: the count of batches then does not depend on how fast the machine is
   * (with the 2 ms default it does, from 10 batches on an idle machine to 272 on a loaded CI runner). How the
   * debouncer splits batches at given gaps is tested with a fake clock in {@link DebouncerTest}.
   */
  static final WatcherOptions COALESCING =
      WatcherOptions.DEFAULTS.withDebounce(Duration.ofSeconds(3), Duration.ofSeconds(60));

  private final MockApiServer api = new MockApiServer();
  private WatcherHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) {
      harness.close();
    }
    api.close();
  }

  @Test
  void aBurstOfAThousandPodCreationsIsCoalescedIntoFewBatches() {
    api.client().namespaces().resource(namespace("shop", true)).create();
    harness = new WatcherHarness(api.client(), COALESCING).awaitSynced();
    await().atMost(WatcherHarness.DEADLINE).until(() -> harness.debouncer.batchesFlushed() == 1);
    int batchesBefore = harness.batches.size();
    long statesBefore = harness.store.statesPublished();

    // written straight into the server's storage: the watch streams them as fast as an API server would,
    // where 1,000 creations through the mock's HTTP, one request each, would take seconds to trickle in
    for (int i = 0; i < BURST; i++) {
      api.createDirectly("/api/v1/namespaces/shop/pods", pod("shop", i, 50));
    }

    List<StateUpdate> burstBatches = awaitBatchHolding(harness, batchesBefore, BURST);
    System.out.printf("MEASURE 1,000-pod burst (streamed by the watch): %d debounced batches, %d published states%n",
        burstBatches.size(), harness.store.statesPublished() - statesBefore);

    // one batch, or two if the machine stalled for the whole quiet period once
    assertThat(burstBatches).hasSizeLessThanOrEqualTo(2);
    assertThat(harness.store.statesPublished() - statesBefore).isGreaterThan(burstBatches.size());
    Change merged = burstBatches.stream().map(StateUpdate::change).reduce(Change::merge).orElseThrow();
    assertThat(merged.pods()).hasSize(BURST);
    assertThat(merged.podNodes()).hasSize(50);
    assertThat(harness.state().pods().values()).allMatch(p -> p.mesh().meshed());
  }

  /** Waits for the batch whose state holds {@code pods} pods; returns the batches since {@code from}. */
  static List<StateUpdate> awaitBatchHolding(WatcherHarness harness, int from, int pods) {
    await().atMost(WatcherHarness.DEADLINE).until(() -> {
      List<StateUpdate> batches = harness.batches;
      return batches.size() > from && batches.get(batches.size() - 1).state().pods().size() == pods;
    });
    return List.copyOf(harness.batches.subList(from, harness.batches.size()));
  }

  /** Creates pods through the API with a few client threads, as a deployment scale-up would. */
  static void createPodsThroughTheApi(KubernetesClient client, String namespace, int count, int nodes)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> created = new ArrayList<>();
      IntStream.range(0, count).forEach(i -> created.add(pool.submit(
          () -> client.pods().inNamespace(namespace).resource(pod(namespace, i, nodes)).create())));
      for (Future<?> future : created) {
        future.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  static Pod pod(String namespace, int i, int nodes) {
    String ip = "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255);
    return new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName("pod-" + i).withUid("uid-" + i)
        .withLabels(Map.of("app", "app-" + (i % 100))).endMetadata()
        .withNewSpec().withNodeName("node-" + (i % nodes))
        .addNewContainer().withName("app").withImage("app:1").endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus()
        .build();
  }
}
