package io.nodemesh.translate;

import com.google.common.net.InetAddresses;
import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import java.net.Inet6Address;
import java.time.Duration;

/** Small Envoy message builders shared by the translators. */
final class EnvoyBuilders {

  static final String TCP_PROXY_FILTER = "envoy.filters.network.tcp_proxy";
  static final String HTTP_CONNECTION_MANAGER_FILTER = "envoy.filters.network.http_connection_manager";
  static final String SET_FILTER_STATE_FILTER = "envoy.filters.network.set_filter_state";
  static final String ROUTER_FILTER = "envoy.filters.http.router";
  static final String ORIGINAL_DST_FILTER = "envoy.filters.listener.original_dst";
  static final String INTERNAL_UPSTREAM_TRANSPORT_SOCKET = "envoy.transport_sockets.internal_upstream";
  static final String RAW_BUFFER_TRANSPORT_SOCKET = "envoy.transport_sockets.raw_buffer";

  private EnvoyBuilders() {}

  /** EDS and RDS come over the same ADS stream as everything else. */
  static ConfigSource ads() {
    return ConfigSource.newBuilder()
        .setAds(AggregatedConfigSource.getDefaultInstance())
        .setResourceApiVersion(ApiVersion.V3)
        .build();
  }

  static com.google.protobuf.Duration duration(Duration duration) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(duration.getSeconds())
        .setNanos(duration.getNano())
        .build();
  }

  static UInt32Value uint32(int value) {
    return UInt32Value.of(value);
  }

  static SocketAddress socketAddress(String ip, int port) {
    return SocketAddress.newBuilder().setAddress(ip).setPortValue(port).build();
  }

  static boolean isIpv6(String ip) {
    return InetAddresses.forString(ip) instanceof Inet6Address;
  }

  static Filter networkFilter(String name, Message config) {
    return Filter.newBuilder().setName(name).setTypedConfig(Any.pack(config)).build();
  }
}
