package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.cluster;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import org.junit.jupiter.api.Test;

class ResourceTest {

  @Test
  void aLargeResourceIsKeptDeflatedAndSendsExactlyTheBytesOfItsMessage() {
    Listener.Builder builder = TestResources.listener("pod/shop/big/outbound", "svc/shop/a/80").toBuilder();
    for (int i = 0; i < 200; i++) {
      builder.addFilterChains(FilterChain.newBuilder().setName("svc/shop/s" + i + "/80")
          .setFilterChainMatch(FilterChainMatch.newBuilder().addServerNames("s" + i + ".shop.svc.cluster.local")));
    }
    Listener listener = builder.build();
    Resource resource = Resource.of(listener);

    assertThat(resource.isCompact()).isTrue();
    assertThat(resource.retainedBytes()).isLessThan(listener.getSerializedSize() / 2);
    Any expected = Any.newBuilder().setTypeUrl(ResourceType.LISTENER.typeUrl())
        .setValue(Versions.deterministicBytes(listener)).build();
    assertThat(resource.any()).isEqualTo(expected);
    assertThat(resource.serializedSize()).isEqualTo(expected.getSerializedSize());
    assertThat(resource.deltaResource().getResource()).isEqualTo(expected);
    assertThat(resource.deltaResource().getName()).isEqualTo("pod/shop/big/outbound");
    assertThat(resource.deltaResource().getVersion()).isEqualTo(resource.version());
    assertThat(resource.deltaSerializedSize()).isEqualTo(resource.deltaResource().getSerializedSize());
    assertThat(resource.message()).isEqualTo(listener);
    assertThat(resource.withGeneration(7).any()).isEqualTo(expected);
  }

  @Test
  void aSmallResourceKeepsItsWireFormsBuiltOnce() {
    Resource resource = Resource.of(cluster("svc/shop/a/80"));

    assertThat(resource.isCompact()).isFalse();
    assertThat(resource.any()).isSameAs(resource.any());
    assertThat(resource.deltaResource()).isSameAs(resource.deltaResource());
    assertThat(resource.deltaSerializedSize()).isEqualTo(resource.deltaResource().getSerializedSize());
    assertThat(resource.message()).isEqualTo(cluster("svc/shop/a/80"));
  }
}
