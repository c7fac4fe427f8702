package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.apiListener;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A resource table seen from a locality: variants served under the names clients ask for. */
class ResourceTableTest {

  private static final String NAME = "echo.default.svc.cluster.local:80";
  private static final String VARIANT = "zone-a.zone." + NAME;
  private static final ImmutableList<String> ZONE_A = ImmutableList.of("node-1.node.", "zone-a.zone.");

  private static ResourceTable table(Listener... listeners) {
    Map<String, Resource> entries = new HashMap<>();
    for (Listener listener : listeners) {
      entries.put(listener.getName(), Resource.of(listener));
    }
    return ResourceTable.EMPTY.with(entries);
  }

  @Test
  void aNameIsAnsweredWithItsLocalVariantRenamedOnceAndOtherNamesAsStored() {
    ResourceTable plain = table(apiListener(NAME, "base"), apiListener(VARIANT, "base@zone/zone-a"),
        apiListener("other:80", "other"));
    ResourceTable local = plain.servedWith(ZONE_A);

    Resource served = local.get(NAME);
    assertThat(served.name()).isEqualTo(NAME);
    assertThat(served.version()).isNotEqualTo(plain.get(VARIANT).version()).isNotEqualTo(plain.get(NAME).version());
    assertThat(((Listener) served.message()).getName()).isEqualTo(NAME);
    assertThat(ProxylessLocalityTest.routesOf(served.any())).isEqualTo("base@zone/zone-a");
    assertThat(local.get(NAME)).as("built once").isSameAs(served);
    assertThat(local.get(VARIANT)).as("the variant by its own name").isSameAs(plain.get(VARIANT));
    assertThat(local.get("other:80")).isSameAs(plain.get("other:80"));
    assertThat(plain.servedWith(ImmutableList.of())).isSameAs(plain);
  }

  @Test
  void aChangedVariantIsReportedAlsoUnderTheNameItIsServedAsOnce() {
    ResourceTable before = table(apiListener(NAME, "base"), apiListener(VARIANT, "v1"));
    ResourceTable after = before.with(Map.of(VARIANT, Resource.of(apiListener(VARIANT, "v2")),
        NAME, Resource.of(apiListener(NAME, "base-2"))));

    List<String> plainDifferences = new ArrayList<>();
    after.forEachDifference(before, plainDifferences::add);
    List<String> localDifferences = new ArrayList<>();
    after.servedWith(ZONE_A).forEachDifference(before.servedWith(ZONE_A), localDifferences::add);

    assertThat(plainDifferences).containsExactlyInAnyOrder(NAME, VARIANT);
    assertThat(localDifferences).containsExactlyInAnyOrder(NAME, VARIANT);
    assertThat(after.servedWith(ZONE_A).get(NAME)).isNotSameAs(before.servedWith(ZONE_A).get(NAME));
  }
}
