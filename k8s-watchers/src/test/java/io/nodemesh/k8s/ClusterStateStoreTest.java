package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.MeshStatus;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NetnsMode;
import io.nodemesh.model.NetnsPaths;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.NodePin;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ClusterStateStoreTest {

  private final ClusterStateStore store = new ClusterStateStore(MeshOptions.DEFAULTS);
  private final List<StateUpdate> updates = new CopyOnWriteArrayList<>();

  ClusterStateStoreTest() {
    store.subscribe(updates::add);
  }

  @AfterEach
  void close() {
    store.close();
  }

  @Test
  void nothingIsPublishedUntilEveryKindHasListedOnce() throws Exception {
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    for (ResourceKind kind : List.of(ResourceKind.POD, ResourceKind.SERVICE, ResourceKind.NODE,
        ResourceKind.NAMESPACE)) {
      store.submit(new StoreEvent.Listed(kind));
    }
    awaitWriter();

    assertThat(updates).isEmpty();
    assertThat(store.isSynced()).isFalse();

    store.submit(new StoreEvent.Listed(ResourceKind.ENDPOINT_SLICE));
    awaitWriter();

    assertThat(store.isSynced()).isTrue();
    assertThat(store.synced()).isCompleted();
    assertThat(updates).singleElement().satisfies(update -> {
      assertThat(update.change().full()).isTrue();
      assertThat(update.change().pods()).containsExactly(ObjectKey.of("shop", "web-1"));
      assertThat(update.state().pods()).hasSize(1);
      assertThat(update.generation()).isEqualTo(1);
    });
  }

  @Test
  void anEmptyClusterStillPublishesItsFirstState() throws Exception {
    syncEmpty();

    assertThat(updates).singleElement().satisfies(update -> {
      assertThat(update.change().full()).isTrue();
      assertThat(update.state().pods()).isEmpty();
    });
  }

  @Test
  void everythingQueuedWhileTheWriterIsBusyIsPublishedAsOneState() throws Exception {
    syncEmpty();
    CountDownLatch release = new CountDownLatch(1);
    store.runOnWriter(() -> awaitQuietly(release));
    for (int i = 0; i < 200; i++) {
      store.submit(upsert(pod("p-" + i, "node-" + (i % 4), "10.0.1." + i), i));
    }
    release.countDown();
    awaitWriter();

    assertThat(updates).hasSize(2);
    Change change = updates.get(1).change();
    assertThat(change.pods()).hasSize(200);
    assertThat(change.podNodes()).containsExactlyInAnyOrder("node-0", "node-1", "node-2", "node-3");
    assertThat(change.earliestEventNanos()).isZero();
    assertThat(updates.get(1).state().pods()).hasSize(200);
  }

  @Test
  void anEventWithUnchangedContentPublishesNothing() throws Exception {
    syncEmpty();
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    awaitWriter();
    long published = store.statesPublished();

    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 2));
    awaitWriter();

    assertThat(store.statesPublished()).isEqualTo(published);
  }

  @Test
  void aReplayOfAnEqualObjectKeepsTheFirstCopySoAResyncRetainsNoDuplicates() throws Exception {
    syncEmpty();
    PodInfo first = pod("web-1", "node-a", "10.0.0.1");
    store.submit(upsert(first, 1));
    PodInfo replayed = pod("web-1", "node-a", "10.0.0.1");
    store.submit(upsert(replayed, 2));
    awaitWriter();

    assertThat(replayed).isEqualTo(first).isNotSameAs(first);
    assertThat(store.appliedValue(ResourceKind.POD, first.key())).containsSame(first);

    PodInfo moved = pod("web-1", "node-b", "10.0.0.1");
    store.submit(upsert(moved, 3));
    awaitWriter();
    assertThat(store.appliedValue(ResourceKind.POD, first.key())).containsSame(moved);
  }

  @Test
  void aPodThatMovesNodesInOneBatchReportsTheOldAndTheNewNode() throws Exception {
    syncEmpty();
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    awaitWriter();

    submitAsOneBatch(
        new StoreEvent.Delete(ResourceKind.POD, ObjectKey.of("shop", "web-1"), 2),
        upsert(pod("web-1", "node-b", "10.0.0.9"), 3));

    Change change = last().change();
    assertThat(change.pods()).containsExactly(ObjectKey.of("shop", "web-1"));
    assertThat(change.podNodes()).containsExactlyInAnyOrder("node-a", "node-b");
    assertThat(last().state().podsOnNode("node-a")).isEmpty();
    assertThat(last().state().podsOnNode("node-b")).hasSize(1);
  }

  @Test
  void pinsMeshAPodWithoutAnIpOnlyOnANodeOfTheClusterAndReportThatPod() throws Exception {
    syncEmpty();
    store.submit(upsert(new NamespaceInfo("shop", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")), 1));
    store.submit(new StoreEvent.Upsert(ResourceKind.NODE, "node-a",
        new Converted<>(NodeInfo.of("node-a", "z1"), ImmutableList.of()), 1));
    PodInfo starting = new PodInfo("uid-web-1", "shop", "web-1", Optional.of("node-a"), ImmutableList.of(),
        PodPhase.PENDING, false, false, ImmutableSortedMap.of(), ImmutableSortedMap.of(), null);
    store.submit(upsert(starting, 1));
    awaitWriter();
    long published = store.statesPublished();

    store.reportPins("invented-node", Map.of("uid-x", new NodePin("uid-x", ImmutableList.of("10.0.0.9"), false)));
    awaitWriter();
    assertThat(store.statesPublished()).as("pins of a node the cluster does not have are dropped").isEqualTo(published);

    store.reportPins("node-a", Map.of("uid-web-1", new NodePin("uid-web-1", ImmutableList.of("10.0.0.5"), false)));
    awaitWriter();
    assertThat(last().change().pods()).containsExactly(starting.key());
    assertThat(last().state().pod(starting.key()).orElseThrow().mesh().meshed()).isTrue();

    long before = store.statesPublished();
    store.reportPins("node-a", Map.of("uid-web-1", new NodePin("uid-web-1", ImmutableList.of("10.0.0.5"), false)));
    awaitWriter();
    assertThat(store.statesPublished()).as("a repeated report publishes nothing").isEqualTo(before);
  }

  @Test
  void aNamespaceOptInReportsTheNamespaceAndEveryPodWhoseMeshStatusFlipped() throws Exception {
    syncEmpty();
    store.submit(upsert(new NamespaceInfo("shop", ImmutableSortedMap.of()), 1));
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    store.submit(upsert(pod("web-2", "node-b", "10.0.0.2"), 1));
    awaitWriter();
    assertThat(last().state().pods().values()).noneMatch(p -> p.mesh().meshed());

    store.submit(upsert(new NamespaceInfo("shop", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")), 5));
    awaitWriter();

    Change change = last().change();
    assertThat(change.namespaces()).containsExactly("shop");
    assertThat(change.pods()).containsExactlyInAnyOrder(ObjectKey.of("shop", "web-1"), ObjectKey.of("shop", "web-2"));
    assertThat(change.podNodes()).containsExactlyInAnyOrder("node-a", "node-b");
    assertThat(last().state().pods().values()).allMatch(p -> p.mesh().meshed());
  }

  @Test
  void aNamespaceLabelThatDoesNotAffectMeshingReportsOnlyTheNamespace() throws Exception {
    syncEmpty();
    store.submit(upsert(new NamespaceInfo("shop", ImmutableSortedMap.of()), 1));
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    awaitWriter();

    store.submit(upsert(new NamespaceInfo("shop", ImmutableSortedMap.of("team", "blue")), 2));
    awaitWriter();

    assertThat(last().change().namespaces()).containsExactly("shop");
    assertThat(last().change().pods()).isEmpty();
    assertThat(last().change().podNodes()).isEmpty();
  }

  @Test
  void aSliceMovedToAnotherServiceChangesTheEndpointsOfBoth() throws Exception {
    syncEmpty();
    store.submit(upsert(slice("web-abc", "web", "10.0.0.1"), 1));
    awaitWriter();

    store.submit(upsert(slice("web-abc", "api", "10.0.0.1"), 2));
    awaitWriter();

    assertThat(last().change().endpoints())
        .containsExactlyInAnyOrder(ObjectKey.of("shop", "web"), ObjectKey.of("shop", "api"));
    assertThat(last().change().services()).isEmpty();
  }

  @Test
  void serviceAndNodeChangesAreReportedByKey() throws Exception {
    syncEmpty();
    submitAsOneBatch(
        upsert(new ServiceInfo("shop", "web", ImmutableList.of("10.96.0.1"),
            ImmutableList.of(ServicePort.tcp("http", 80)), ImmutableSortedMap.of()), 1),
        new StoreEvent.Upsert(ResourceKind.NODE, "node-a",
            new Converted<>(NodeInfo.of("node-a", "z1"), ImmutableList.of()), 1));

    assertThat(last().change().services()).containsExactly(ObjectKey.of("shop", "web"));
    assertThat(last().change().nodes()).containsExactly("node-a");
    assertThat(last().change().nodesChanged()).isTrue();

    store.submit(new StoreEvent.Delete(ResourceKind.NODE, "node-a", 2));
    awaitWriter();

    assertThat(last().change().nodes()).containsExactly("node-a");
    assertThat(last().state().nodes()).isEmpty();
  }

  @Test
  void theChangeCarriesTheEarliestObservationOfItsBatch() throws Exception {
    syncEmpty();
    submitAsOneBatch(
        upsert(pod("a", "node-a", "10.0.0.1"), 500),
        upsert(pod("b", "node-a", "10.0.0.2"), 200),
        upsert(pod("c", "node-a", "10.0.0.3"), 900));

    assertThat(last().change().earliestEventNanos()).isEqualTo(200);
  }

  @Test
  void aRejectedUpdateRemovesTheObjectAndRecordsWhy() throws Exception {
    syncEmpty();
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    awaitWriter();

    store.submit(new StoreEvent.Reject(ResourceKind.POD, ObjectKey.of("shop", "web-1"), "shop", "web-1",
        "pod has no spec", 2));
    awaitWriter();

    assertThat(last().change().pods()).containsExactly(ObjectKey.of("shop", "web-1"));
    assertThat(last().change().podNodes()).containsExactly("node-a");
    assertThat(store.current().pods()).isEmpty();
    assertThat(store.current().problems()).anySatisfy(problem -> {
      assertThat(problem.kind()).isEqualTo("Pod");
      assertThat(problem.name()).isEqualTo("web-1");
      assertThat(problem.reason()).isEqualTo("pod has no spec");
    });
  }

  @Test
  void converterProblemsAreRecordedAgainstTheObjectAndClearedByAFixedVersion() throws Exception {
    syncEmpty();
    store.submit(new StoreEvent.Upsert(ResourceKind.POD, ObjectKey.of("shop", "web-1"),
        new Converted<>(pod("web-1", "node-a", "10.0.0.1"), ImmutableList.of("label x has no value, skipped")), 1));
    awaitWriter();
    assertThat(store.current().problems()).extracting(p -> p.reason()).contains("label x has no value, skipped");

    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 2));
    awaitWriter();

    assertThat(store.current().problems()).isEmpty();
  }

  @Test
  void theSameNameInTwoNamespacesIsTwoObjects() throws Exception {
    syncEmpty();
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    PodInfo other = pod("web-1", "node-a", "10.0.0.2");
    store.submit(upsert(new PodInfo("uid-other", "other", other.name(), other.nodeName(), other.ips(),
        other.phase(), false, false, null, null, null), 1));
    awaitWriter();

    assertThat(store.current().pods()).containsOnlyKeys(ObjectKey.of("shop", "web-1"), ObjectKey.of("other", "web-1"));

    store.submit(new StoreEvent.Delete(ResourceKind.POD, ObjectKey.of("other", "web-1"), 2));
    awaitWriter();

    assertThat(store.current().pods()).containsOnlyKeys(ObjectKey.of("shop", "web-1"));
  }

  @Test
  void aSubscriberThatArrivesLateFirstGetsTheWholeStateMarkedFull() throws Exception {
    syncEmpty();
    store.submit(upsert(pod("web-1", "node-a", "10.0.0.1"), 1));
    awaitWriter();

    List<StateUpdate> late = new CopyOnWriteArrayList<>();
    store.subscribe(late::add);
    awaitWriter();

    assertThat(late).singleElement().satisfies(update -> {
      assertThat(update.change().full()).isTrue();
      assertThat(update.state().pods()).hasSize(1);
    });
  }

  @Test
  void modelStateRefusesToBeTouchedOutsideTheWriterThread() throws Exception {
    assertThatThrownBy(store::checkWriter).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("writer thread");

    CompletableFuture<Void> onWriter = new CompletableFuture<>();
    store.runOnWriter(() -> {
      try {
        store.checkWriter();
        onWriter.complete(null);
      } catch (RuntimeException e) {
        onWriter.completeExceptionally(e);
      }
    });
    onWriter.get(5, TimeUnit.SECONDS);
  }

  @Test
  void whenThePodSharingItsNetnsPathGoesTheOtherPodIsReportedChangedAndMeshed() throws Exception {
    String netns = "/var/run/netns/cni-1f2e3d4c";
    MeshOptions annotationMode =
        new MeshOptions(true, NetnsMode.ANNOTATION, null, MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX);
    List<StateUpdate> seen = new CopyOnWriteArrayList<>();
    try (ClusterStateStore annotated = new ClusterStateStore(annotationMode)) {
      annotated.subscribe(seen::add);
      for (ResourceKind kind : ResourceKind.values()) {
        annotated.submit(new StoreEvent.Listed(kind));
      }
      annotated.submit(upsert(annotatedPod("web-1", "node-a", netns), 1));
      annotated.submit(upsert(annotatedPod("web-9", "node-b", netns), 1));
      awaitWriter(annotated);
      annotated.submit(upsert(annotatedPod("thief", "node-a", netns), 2));
      awaitWriter(annotated);

      StateUpdate conflict = seen.get(seen.size() - 1);
      assertThat(conflict.change().pods())
          .containsExactlyInAnyOrder(ObjectKey.of("shop", "thief"), ObjectKey.of("shop", "web-1"));
      assertThat(conflict.change().podNodes()).containsExactly("node-a");
      assertThat(conflict.state().pod(ObjectKey.of("shop", "web-1")).orElseThrow().mesh().reason())
          .contains("shop/thief");
      assertThat(conflict.state().pod(ObjectKey.of("shop", "web-9")).orElseThrow().mesh().meshed()).isTrue();
      assertThat(conflict.state().problems()).hasSize(2);

      annotated.submit(new StoreEvent.Delete(ResourceKind.POD, ObjectKey.of("shop", "thief"), 3));
      awaitWriter(annotated);

      StateUpdate resolved = seen.get(seen.size() - 1);
      assertThat(resolved.change().pods())
          .containsExactlyInAnyOrder(ObjectKey.of("shop", "thief"), ObjectKey.of("shop", "web-1"));
      assertThat(resolved.change().podNodes()).containsExactly("node-a");
      assertThat(resolved.state().pod(ObjectKey.of("shop", "web-1")).orElseThrow().mesh())
          .isEqualTo(MeshStatus.meshed(netns));
      assertThat(resolved.state().problems()).isEmpty();
    }
  }

  @Test
  void routeKindsAreWaitedForOnlyOnceTheirInformerIsWatched() throws Exception {
    store.submit(new StoreEvent.Watched(ResourceKind.HTTP_ROUTE));
    for (ResourceKind kind : ResourceKind.values()) {
      if (!kind.optional()) {
        store.submit(new StoreEvent.Listed(kind));
      }
    }
    awaitWriter();
    assertThat(store.isSynced()).as("HTTPRoute is watched and not listed yet").isFalse();

    store.submit(new StoreEvent.Listed(ResourceKind.HTTP_ROUTE));
    awaitWriter();
    assertThat(store.isSynced()).as("GRPCRoute is not watched: not waited for").isTrue();
  }

  @Test
  void aRouteChangeNamesTheParentServicesOfItsOldAndNewVersions() throws Exception {
    syncEmpty();
    MeshRoute first = route("r", parent("web"), parent("api"));
    store.submit(routeUpsert(first, 1));
    awaitWriter();
    assertThat(store.current().routes()).containsOnlyKeys(first.key());
    assertThat(last().change().services())
        .containsExactlyInAnyOrder(ObjectKey.of("shop", "web"), ObjectKey.of("shop", "api"));

    MeshRoute moved = route("r", parent("web"), parent("cart"));
    store.submit(routeUpsert(moved, 2));
    awaitWriter();
    assertThat(store.current().routes().get(first.key())).isEqualTo(moved);
    assertThat(last().change().services()).containsExactlyInAnyOrder(
        ObjectKey.of("shop", "web"), ObjectKey.of("shop", "api"), ObjectKey.of("shop", "cart"));

    int published = updates.size();
    store.submit(routeUpsert(moved, 3));
    awaitWriter();
    assertThat(updates).as("an unchanged route publishes nothing").hasSize(published);

    store.submit(new StoreEvent.Delete(ResourceKind.HTTP_ROUTE, first.key(), 4));
    awaitWriter();
    assertThat(store.current().routes()).isEmpty();
    assertThat(last().change().services())
        .containsExactlyInAnyOrder(ObjectKey.of("shop", "web"), ObjectKey.of("shop", "cart"));
  }

  @Test
  void aRouteThatNoLongerNamesAServiceLeavesTheModel() throws Exception {
    syncEmpty();
    MeshRoute attached = route("r", parent("web"));
    store.submit(routeUpsert(attached, 1));
    awaitWriter();
    assertThat(store.current().routes()).hasSize(1);

    store.submit(routeUpsert(route("r"), 2)); // moved to a Gateway: no Service parent left
    awaitWriter();
    assertThat(store.current().routes()).isEmpty();
    assertThat(last().change().services()).containsExactly(ObjectKey.of("shop", "web"));
    assertThat(store.current().problems()).isEmpty();
  }

  @Test
  void aRejectedRouteStaysWithItsReasonAndIsReported() throws Exception {
    syncEmpty();
    MeshRoute rejected = route("r", parent("web")).rejectedFor("timeouts.request: bad duration");
    store.submit(routeUpsert(rejected, 1));
    awaitWriter();
    assertThat(store.current().routes().get(rejected.key()).rejected()).contains("bad duration");
    assertThat(store.current().problems()).extracting(p -> p.kind() + " " + p.name())
        .containsExactly("HTTPRoute r");
    assertThat(last().change().services()).containsExactly(ObjectKey.of("shop", "web"));
  }

  // ---- helpers ----

  private static MeshRoute route(String name, MeshRoute.Parent... parents) {
    return new MeshRoute(MeshRoute.Kind.HTTP_ROUTE, "shop", name, 1, 0, ImmutableList.copyOf(parents),
        ImmutableList.of(new MeshRoute.Rule(null, null, null, null, null, null)), null);
  }

  private static MeshRoute.Parent parent(String service) {
    return new MeshRoute.Parent("shop", service, 0, "");
  }

  private static StoreEvent routeUpsert(MeshRoute route, long observedNanos) {
    return new StoreEvent.Upsert(ResourceKind.HTTP_ROUTE, route.key(), new Converted<>(route, null), observedNanos);
  }

  private void syncEmpty() throws Exception {
    for (ResourceKind kind : ResourceKind.values()) {
      store.submit(new StoreEvent.Listed(kind));
    }
    awaitWriter();
    assertThat(store.isSynced()).isTrue();
  }

  /** Submits events while the writer is held, so they are drained and published as one batch. */
  private void submitAsOneBatch(StoreEvent... events) throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    store.runOnWriter(() -> awaitQuietly(release));
    for (StoreEvent event : events) {
      store.submit(event);
    }
    release.countDown();
    awaitWriter();
  }

  /** Waits until the writer has handled everything submitted so far (its executor is FIFO). */
  private void awaitWriter() throws Exception {
    awaitWriter(store);
  }

  private static void awaitWriter(ClusterStateStore of) throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    of.runOnWriter(() -> done.complete(null));
    done.get(5, TimeUnit.SECONDS);
  }

  private StateUpdate last() {
    return updates.get(updates.size() - 1);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static PodInfo pod(String name, String node, String ip) {
    return new PodInfo("uid-" + name, "shop", name, Optional.of(node), ImmutableList.of(ip), PodPhase.RUNNING,
        false, false, ImmutableSortedMap.of(), ImmutableSortedMap.of(), null);
  }

  private static PodInfo annotatedPod(String name, String node, String netns) {
    return new PodInfo("uid-" + name, "shop", name, Optional.of(node), ImmutableList.of("10.0.0." + name.length()),
        PodPhase.RUNNING, false, false, ImmutableSortedMap.of(), ImmutableSortedMap.of(NetnsPaths.ANNOTATION, netns),
        null);
  }

  private static EndpointSliceInfo slice(String name, String service, String ip) {
    return new EndpointSliceInfo("shop", name, service, AddressType.IPV4, ImmutableList.of(),
        ImmutableList.of(new EndpointInfo(ImmutableList.of(ip), true, true, false, Optional.empty(),
            Optional.empty(), Optional.empty())));
  }

  private static StoreEvent upsert(Object value, long observedNanos) {
    if (value instanceof PodInfo pod) {
      return new StoreEvent.Upsert(ResourceKind.POD, pod.key(), new Converted<>(pod, null), observedNanos);
    } else if (value instanceof ServiceInfo service) {
      return new StoreEvent.Upsert(ResourceKind.SERVICE, service.key(), new Converted<>(service, null), observedNanos);
    } else if (value instanceof EndpointSliceInfo slice) {
      return new StoreEvent.Upsert(ResourceKind.ENDPOINT_SLICE, slice.key(), new Converted<>(slice, null),
          observedNanos);
    } else if (value instanceof NamespaceInfo namespace) {
      return new StoreEvent.Upsert(ResourceKind.NAMESPACE, namespace.name(), new Converted<>(namespace, null),
          observedNanos);
    }
    throw new IllegalArgumentException(String.valueOf(value));
  }

}
