package io.nodemesh.k8s;

import static io.nodemesh.k8s.KubernetesWatchersTest.namespace;
import static io.nodemesh.k8s.KubernetesWatchersTest.node;
import static io.nodemesh.k8s.KubernetesWatchersTest.pod;
import static io.nodemesh.k8s.KubernetesWatchersTest.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.nodemesh.model.ObjectKey;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Resyncs, API server restarts and expired watches: survived, and without spurious changes. */
class WatcherResilienceTest {

  private final MockApiServer api = new MockApiServer();
  private final KubernetesClient client = api.client();
  private WatcherHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) {
      harness.close();
    }
    api.close();
  }

  @Test
  void aResyncThatFindsNothingNewPublishesNothing() throws Exception {
    seedCluster();
    harness = new WatcherHarness(client, WatcherOptions.DEFAULTS.withResyncPeriod(Duration.ofSeconds(1)))
        .awaitSynced();
    await().atMost(WatcherHarness.DEADLINE).until(() -> harness.debouncer.batchesFlushed() == 1);
    long published = harness.store.statesPublished();
    long podEvents = harness.watchers.eventCounts().get(ResourceKind.POD);

    // two resync rounds replay every cached object to the handlers
    await().atMost(WatcherHarness.DEADLINE)
        .until(() -> harness.watchers.eventCounts().get(ResourceKind.POD) >= podEvents + 2 * 3);
    harness.awaitWriterIdle();

    assertThat(harness.store.statesPublished()).isEqualTo(published);
    assertThat(harness.debouncer.batchesFlushed()).isEqualTo(1);
  }

  @Test
  void anApiServerRestartIsSurvivedWithoutSpuriousChanges() throws Exception {
    seedCluster();
    harness = new WatcherHarness(client).awaitSynced();
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
    int mark = harness.mark();

    api.stop();
    await().atMost(WatcherHarness.DEADLINE).until(() -> !harness.watchers.isApiServerReachable());
    api.restart();
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
    harness.awaitWriterIdle();

    // the restarted server replays every object on the new watches: same content, so nothing is published
    assertThat(harness.published).hasSize(mark);

    client.pods().inNamespace("shop").resource(pod("after-restart", "node-a", "10.0.0.50", "Running")).create();
    harness.awaitState(s -> s.pods().containsKey(ObjectKey.of("shop", "after-restart")));
    assertThat(harness.changesSince(mark).pods()).containsExactly(ObjectKey.of("shop", "after-restart"));
  }

  @Test
  void anExpiredWatchRelistsAndCatchesUpWithWhatChangedMeanwhile() throws Exception {
    seedCluster();
    harness = new WatcherHarness(client).awaitSynced();
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
    int mark = harness.mark();

    api.stop();
    // while the API server is away: web-2 goes, and the pods watch will come back "410 Gone"
    api.deleteDirectly("/api/v1/namespaces/shop/pods/web-2");
    api.expireNextWatchOf("pods");
    api.restart();

    harness.awaitState(s -> !s.pods().containsKey(ObjectKey.of("shop", "web-2")));
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
    harness.awaitWriterIdle();

    assertThat(harness.watchers.health().kinds().get(ResourceKind.POD).lists()).as("initial list + relist")
        .isEqualTo(2);
    Change change = harness.changesSince(mark);
    assertThat(change.pods()).containsExactly(ObjectKey.of("shop", "web-2"));
    assertThat(change.podNodes()).containsExactly("node-b");
    assertThat(change.services()).isEmpty();
    assertThat(change.endpoints()).isEmpty();
    assertThat(harness.state().pods()).containsKeys(ObjectKey.of("shop", "web-1"), ObjectKey.of("shop", "web-3"));
  }

  @Test
  void informersStartedBeforeTheApiServerIsUpKeepRetryingAndSyncOnceItIs() {
    seedCluster();
    api.stop();
    harness = new WatcherHarness(client);

    await().atMost(WatcherHarness.DEADLINE).until(() -> harness.watchers.health().watchErrors() > 0);
    WatchHealth down = harness.watchers.health();
    assertThat(down.synced()).isFalse();
    assertThat(down.apiServerReachable()).isFalse();
    assertThat(down.lastError()).isPresent();
    assertThat(down.lastErrorAt()).isPresent();
    assertThat(harness.published).as("nothing before a complete list").isEmpty();

    api.restart();

    harness.awaitSynced();
    assertThat(harness.state().pods()).hasSize(3);
    await().atMost(WatcherHarness.DEADLINE).until(harness.watchers::isApiServerReachable);
  }

  private void seedCluster() {
    client.namespaces().resource(namespace("shop", true)).create();
    client.nodes().resource(node("node-a", "z1")).create();
    client.nodes().resource(node("node-b", "z2")).create();
    client.pods().inNamespace("shop").resource(pod("web-1", "node-a", "10.0.0.1", "Running")).create();
    client.pods().inNamespace("shop").resource(pod("web-2", "node-b", "10.0.0.2", "Running")).create();
    client.pods().inNamespace("shop").resource(pod("web-3", "node-b", "10.0.0.3", "Running")).create();
    client.services().inNamespace("shop").resource(new ServiceBuilder()
        .withNewMetadata().withNamespace("shop").withName("web").endMetadata()
        .withNewSpec().withClusterIP("10.96.0.10").addNewPort().withName("http").withPort(80).endPort().endSpec()
        .build()).create();
    client.discovery().v1().endpointSlices().inNamespace("shop")
        .resource(slice("web-x", "web", "10.0.0.1", "10.0.0.2", "10.0.0.3")).create();
  }
}
