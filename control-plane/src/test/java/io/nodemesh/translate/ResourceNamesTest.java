package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.model.ObjectKey;
import org.junit.jupiter.api.Test;

/** The naming scheme read back: every name the translator builds says which pod or service it is for. */
class ResourceNamesTest {

  private static final ObjectKey POD = ObjectKey.of("shop", "web-1");
  private static final ObjectKey SERVICE = ObjectKey.of("shop", "cart");

  @Test
  void perPodNamesReadBackToTheirPod() {
    String listener = ResourceNames.outboundListener(POD);
    String cluster = ResourceNames.perPodServiceCluster(POD, SERVICE, 8080);
    assertThat(ResourceNames.isPerPod(listener)).isTrue();
    assertThat(ResourceNames.isOutboundListener(listener)).isTrue();
    assertThat(ResourceNames.isOutboundListener(cluster)).isFalse();
    assertThat(ResourceNames.podOf(listener)).contains(POD);
    assertThat(ResourceNames.podOf(cluster)).contains(POD);
    assertThat(ResourceNames.isOwnedBy(cluster, POD)).isTrue();
    assertThat(ResourceNames.isOwnedBy(cluster, ObjectKey.of("shop", "web"))).as("a prefix of the name").isFalse();
    assertThat(ResourceNames.serviceOf(listener)).isEmpty();
  }

  @Test
  void serviceNamesAndProxylessListenersReadBackToTheirService() {
    assertThat(ResourceNames.serviceOf(ResourceNames.servicePort(SERVICE, 8080))).contains(SERVICE);
    assertThat(ResourceNames.serviceOf(ResourceNames.proxylessListener(SERVICE, 8080))).contains(SERVICE);
    assertThat(ResourceNames.serviceOf(ResourceNames.proxylessShortListener(SERVICE, 8080))).contains(SERVICE);
    assertThat(ResourceNames.isPerPod(ResourceNames.servicePort(SERVICE, 8080))).isFalse();
    assertThat(ResourceNames.podOf(ResourceNames.servicePort(SERVICE, 8080))).isEmpty();
    assertThat(ResourceNames.serviceOf(ResourceNames.destinationCluster("10.96.0.10", 80))).isEmpty();
    assertThat(ResourceNames.serviceOf(ResourceNames.PASSTHROUGH)).isEmpty();
  }
}
