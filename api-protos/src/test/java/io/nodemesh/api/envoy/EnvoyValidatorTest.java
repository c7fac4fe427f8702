package io.nodemesh.api.envoy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import org.junit.jupiter.api.Test;

class EnvoyValidatorTest {

  private static final String FILTER_STATE_OVERRIDE =
      "envoy.extensions.local_address_selectors.filter_state_override.v3.Config";

  private static Listener listenerWith(Any typedConfig) {
    return Listener.newBuilder()
        .setName("l")
        .setAddress(
            Address.newBuilder()
                .setSocketAddress(SocketAddress.newBuilder().setAddress("0.0.0.0").setPortValue(15001)))
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(Filter.newBuilder().setName("envoy.filters.network.tcp_proxy").setTypedConfig(typedConfig)))
        .build();
  }

  @Test
  void acceptsAValidListenerWithAValidTypedConfig() {
    Any tcpProxy = Any.pack(TcpProxy.newBuilder().setStatPrefix("out").setCluster("c").build());
    assertThat(EnvoyValidator.violations(listenerWith(tcpProxy))).isEmpty();
  }

  @Test
  void findsViolationsInsideTypedConfig() {
    // tcp_proxy requires a non-empty stat_prefix: only visible once the Any is unpacked
    Any tcpProxy = Any.pack(TcpProxy.newBuilder().setCluster("c").build());
    assertThat(EnvoyValidator.violations(listenerWith(tcpProxy)))
        .singleElement()
        .asString()
        .contains("TcpProxy")
        .contains("stat_prefix");
  }

  @Test
  void findsViolationsOfTheTopLevelMessage() {
    Listener portOutOfRange =
        Listener.newBuilder()
            .setName("l")
            .setAddress(
                Address.newBuilder()
                    .setSocketAddress(SocketAddress.newBuilder().setAddress("0.0.0.0").setPortValue(70000)))
            .build();
    assertThat(EnvoyValidator.violations(portOutOfRange)).singleElement().asString().contains("port_value");
    assertThatThrownBy(() -> EnvoyValidator.requireValid(portOutOfRange))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void rejectsUnknownTypeUrls() {
    Any unknown = Any.newBuilder().setTypeUrl("type.googleapis.com/nope.v3.Nothing").build();
    assertThat(EnvoyValidator.violations(listenerWith(unknown)))
        .singleElement()
        .asString()
        .contains("unknown type URL");
  }

  @Test
  void knowsTheEmptyFilterStateOverrideSelectorThatTheApiJarLacks() {
    Any selector = EnvoyTypes.emptyConfig(FILTER_STATE_OVERRIDE);
    assertThat(EnvoyTypes.descriptorFor(selector.getTypeUrl())).isPresent();
    assertThat(EnvoyValidator.violations(listenerWith(selector))).isEmpty();

    Any withFields = selector.toBuilder().setValue(ByteString.copyFrom(new byte[] {8, 1})).build();
    assertThat(EnvoyValidator.violations(listenerWith(withFields))).singleElement().asString().contains("empty");
  }

  @Test
  void printsAnyAsEnvoyJson() throws Exception {
    Listener listener = listenerWith(Any.pack(TcpProxy.newBuilder().setStatPrefix("out").setCluster("c").build()));
    String json = EnvoyTypes.jsonPrinter(java.util.List.of(listener)).print(listener);
    assertThat(json).contains("\"@type\": \"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy\"");
  }
}
