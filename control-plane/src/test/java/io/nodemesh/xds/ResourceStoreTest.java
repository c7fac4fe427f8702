package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.listener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResourceStoreTest {

  private final ResourceStore store = new ResourceStore();
  private final List<StoreChange> changes = new ArrayList<>();

  ResourceStoreTest() {
    store.addListener((snapshot, change) -> changes.add(change));
  }

  private ApplyResult apply(UpdateBatch batch) throws Exception {
    return store.apply(batch).get(10, TimeUnit.SECONDS);
  }

  @Test
  void theSameContentHasTheSameVersionWhateverTheMapInsertionOrder() {
    Struct ab =
        Struct.newBuilder()
            .putFields("a", Value.newBuilder().setStringValue("1").build())
            .putFields("b", Value.newBuilder().setStringValue("2").build())
            .build();
    Struct ba =
        Struct.newBuilder()
            .putFields("b", Value.newBuilder().setStringValue("2").build())
            .putFields("a", Value.newBuilder().setStringValue("1").build())
            .build();
    Resource first = Resource.of(cluster("c").toBuilder().setMetadata(Metadata.newBuilder().putFilterMetadata("x", ab)).build());
    Resource second = Resource.of(cluster("c").toBuilder().setMetadata(Metadata.newBuilder().putFilterMetadata("x", ba)).build());

    assertThat(first.version()).isEqualTo(second.version()).hasSize(32);
    assertThat(first.any()).isEqualTo(second.any());
  }

  @Test
  void differentContentHasADifferentVersion() {
    assertThat(Resource.of(cluster("c", 250)).version()).isNotEqualTo(Resource.of(cluster("c", 500)).version());
  }

  @Test
  void aBatchBumpsTheGenerationOnceAndReportsEveryChangedName() throws Exception {
    ApplyResult result =
        apply(
            UpdateBatch.builder()
                .put(cluster("a"))
                .put(cluster("b"))
                .put(endpoints("a", "10.0.0.1", 80))
                .putNode("node-1", Set.of("l1"), Set.of("a", "b"))
                .build());

    assertThat(result).isEqualTo(new ApplyResult(1, 3, 0, 2));
    assertThat(store.snapshot().generation()).isEqualTo(1);
    assertThat(changes).hasSize(1);
    assertThat(changes.get(0).changed(ResourceType.CLUSTER)).containsExactlyInAnyOrder("a", "b");
    assertThat(changes.get(0).changed(ResourceType.ENDPOINT)).containsExactly("a");
    assertThat(changes.get(0).changedViews().get("node-1"))
        .containsExactlyInAnyOrder(ResourceType.LISTENER, ResourceType.CLUSTER);
    assertThat(store.snapshot().get(ResourceType.CLUSTER, "a").orElseThrow().generation()).isEqualTo(1);
  }

  @Test
  void reputtingIdenticalContentChangesNothingAndNotifiesNobody() throws Exception {
    apply(UpdateBatch.builder().put(cluster("a")).putNode("n", Set.of(), Set.of("a")).build());
    changes.clear();

    ApplyResult result = apply(UpdateBatch.builder().put(cluster("a")).putNode("n", Set.of(), Set.of("a")).build());

    assertThat(result.changed()).isFalse();
    assertThat(result.generation()).isEqualTo(1);
    assertThat(changes).isEmpty();
  }

  @Test
  void removingAResourceOrANodeIsReportedAsAChange() throws Exception {
    apply(UpdateBatch.builder().put(listener("l", "c")).putNode("n", Set.of("l"), Set.of()).build());
    changes.clear();

    ApplyResult result =
        apply(UpdateBatch.builder().remove(ResourceType.LISTENER, "l").remove(ResourceType.CLUSTER, "never-there").removeNode("n").build());

    assertThat(result.removedResources()).isEqualTo(1);
    assertThat(changes.get(0).changed(ResourceType.LISTENER)).containsExactly("l");
    assertThat(changes.get(0).changed(ResourceType.CLUSTER)).isEmpty();
    assertThat(changes.get(0).changedViews().get("n")).containsExactly(ResourceType.LISTENER);
    assertThat(store.snapshot().node("n")).isEmpty();
    assertThat(store.snapshot().get(ResourceType.LISTENER, "l")).isEmpty();
  }

  @Test
  void equalViewsOfDifferentNodesShareOneNameSet() throws Exception {
    apply(
        UpdateBatch.builder()
            .putNode("n1", Set.of("l1"), List.of("shared-a", "shared-b"))
            .putNode("n2", Set.of("l2"), List.of("shared-a", "shared-b"))
            .build());

    StoreSnapshot snapshot = store.snapshot();
    assertThat(snapshot.node("n1").orElseThrow().clusters()).isSameAs(snapshot.node("n2").orElseThrow().clusters());
  }

  @Test
  void aSnapshotTakenBeforeABatchStaysAsItWas() throws Exception {
    apply(UpdateBatch.builder().put(cluster("a", 100)).build());
    StoreSnapshot before = store.snapshot();

    apply(UpdateBatch.builder().put(cluster("a", 200)).remove(ResourceType.CLUSTER, "a").put(cluster("b")).build());

    assertThat(before.get(ResourceType.CLUSTER, "a").orElseThrow().message()).isEqualTo(cluster("a", 100));
    assertThat(before.size(ResourceType.CLUSTER)).isEqualTo(1);
    assertThat(store.snapshot().resources(ResourceType.CLUSTER)).extracting(Resource::name).containsExactly("b");
  }

  @Test
  void aResourceWithoutANameIsRejected() {
    assertThatThrownBy(() -> UpdateBatch.builder().put(cluster("")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("without a name");
  }

  @Test
  void manyShardsChangeIndependently() {
    ResourceTable table = ResourceTable.EMPTY;
    java.util.Map<String, Resource> puts = new java.util.HashMap<>();
    for (int i = 0; i < 1000; i++) {
      puts.put("c" + i, Resource.of(cluster("c" + i)));
    }
    table = table.with(puts);
    ResourceTable changed = table.with(java.util.Map.of("c7", Resource.of(cluster("c7", 999))));
    List<String> differences = new ArrayList<>();

    table.forEachDifference(changed, differences::add);

    assertThat(table.size()).isEqualTo(1000);
    assertThat(changed.size()).isEqualTo(1000);
    assertThat(differences).containsExactly("c7");
  }
}
