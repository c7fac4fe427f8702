package io.nodemesh.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MeshPolicyTest {

  private static final String UID = "6b1f0a52-3c1e-4a57-9d1e-0c5e8b7a9f10";
  private static final MeshOptions ALL = new MeshOptions(true, NetnsMode.TEMPLATE, null, null);
  private static final MeshOptions ANNOTATION = new MeshOptions(true, NetnsMode.ANNOTATION, null, null);

  private static PodInfo pod(ImmutableSortedMap<String, String> labels, ImmutableSortedMap<String, String> annotations) {
    return new PodInfo(UID, "ns", "p", Optional.of("node"), ImmutableList.of("10.0.0.1"), PodPhase.RUNNING,
        false, false, labels, annotations, null);
  }

  @Test
  void aRunningOptedInPodIsMeshedWithItsTemplatedNetnsPin() {
    MeshStatus status = MeshPolicy.evaluate(pod(null, null), null, ALL);
    assertThat(status.meshed()).isTrue();
    assertThat(status.netnsPath()).contains("/var/run/nodemesh/netns/" + UID);
  }

  @Test
  void thePodLabelOptsOutEvenWhenEverythingIsMeshed() {
    MeshStatus status =
        MeshPolicy.evaluate(pod(ImmutableSortedMap.of(MeshPolicy.MESH_LABEL, MeshPolicy.DISABLED), null), null, ALL);
    assertThat(status.meshed()).isFalse();
    assertThat(status.reason()).contains("opted out");
  }

  @Test
  void withoutOptInNothingIsMeshed() {
    assertThat(MeshPolicy.evaluate(pod(null, null), null, MeshOptions.DEFAULTS).reason()).contains("not opted in");
    assertThat(MeshPolicy.evaluate(
            pod(ImmutableSortedMap.of(MeshPolicy.MESH_LABEL, MeshPolicy.ENABLED), null), null, MeshOptions.DEFAULTS)
        .meshed()).isTrue();
  }

  @Test
  void anAnnotatedPathUnderThePrefixIsAccepted() {
    MeshStatus status =
        MeshPolicy.evaluate(pod(null, ImmutableSortedMap.of(NetnsPaths.ANNOTATION, "/var/run/netns/cni-1")), null,
            ANNOTATION);
    assertThat(status.netnsPath()).contains("/var/run/netns/cni-1");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/var/run/netns/../../proc/1/ns/net", "/proc/self/ns/net", "/var/run/netns/%START_TIME%",
      "/var/run/netns/a b", "/var/run/netns//x", "/var/run/netns/x/", "/var/run/netns/.", "relative/x",
      "/var/run/netns/\u0000x", "/var/run/netns/\u00e9", "/var/run/netnsevil/x"})
  void hostileAnnotatedPathsAreRejectedWithAReason(String path) {
    MeshStatus status =
        MeshPolicy.evaluate(pod(null, ImmutableSortedMap.of(NetnsPaths.ANNOTATION, path)), null, ANNOTATION);
    assertThat(status.meshed()).isFalse();
    assertThat(status.reason()).startsWith(NetnsPaths.ANNOTATION + " rejected");
  }

  @Test
  void optionsRejectTemplatesWithoutTheUidAndRelativePrefixes() {
    assertThatThrownBy(() -> new MeshOptions(false, NetnsMode.TEMPLATE, "/var/run/x", null))
        .hasMessageContaining("{podUid}");
    assertThatThrownBy(() -> new MeshOptions(false, NetnsMode.TEMPLATE, null, "var/run"))
        .hasMessageContaining("absolute");
  }
}
