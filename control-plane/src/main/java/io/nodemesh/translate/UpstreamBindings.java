package io.nodemesh.translate;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.BindConfig;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.ExtraSourceAddress;
import io.envoyproxy.envoy.config.core.v3.SocketOption;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.extensions.filters.common.set_filter_state.v3.FilterStateValue;
import io.envoyproxy.envoy.extensions.filters.network.set_filter_state.v3.Config;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.model.PodInfo;
import java.util.List;

/**
 * Makes Envoy's upstream connections originate from the calling pod's network namespace, in either binding
 * mode of ARCHITECTURE.md §5, and marks them (SO_MARK) so the pod's redirect rule does not capture them again.
 */
final class UpstreamBindings {

  /** The filter-state key Envoy's filter_state_override selector reads the namespace path from. */
  static final String NETNS_OBJECT_KEY = "envoy.network.upstream_bind_override.network_namespace";
  /**
   * Security configuration, not a detail: a hashable object becomes part of the upstream connection-pool
   * key, so pools partition per (host, pod) and one pod's connection never carries another pod's request.
   * {@code envoy.string} would share pools across pods.
   */
  static final String HASHABLE_STRING_FACTORY = "envoy.hashable_string";
  /**
   * The filter-state key tcp_proxy reads its cluster from, overriding its configured one (Envoy
   * source/common/tcp_proxy/tcp_proxy.cc, constructible by set_filter_state since 1.28). A name that is no
   * cluster closes the connection ({@code downstream_cx_no_route}); there is no fallback.
   */
  static final String TCP_PROXY_CLUSTER_KEY = "envoy.tcp_proxy.cluster";
  static final String FILTER_STATE_OVERRIDE_SELECTOR = "envoy.upstream.local_address_selector.filter_state_override";
  static final String FILTER_STATE_OVERRIDE_CONFIG =
      "envoy.extensions.local_address_selectors.filter_state_override.v3.Config";

  private static final int SOL_SOCKET = 1;
  private static final int SO_MARK = 36;

  private UpstreamBindings() {}

  /**
   * Shared mode: bind to the wildcard address (the kernel picks the pod IP because the socket lives in the
   * pod's namespace) and let the selector take the namespace from the connection's filter state.
   */
  static BindConfig shared(TranslatorOptions options) {
    return BindConfig.newBuilder()
        .setSourceAddress(EnvoyBuilders.socketAddress("0.0.0.0", 0))
        .addExtraSourceAddresses(
            ExtraSourceAddress.newBuilder().setAddress(EnvoyBuilders.socketAddress("::", 0)))
        .addSocketOptions(soMark(options))
        .setLocalAddressSelector(
            TypedExtensionConfig.newBuilder()
                .setName(FILTER_STATE_OVERRIDE_SELECTOR)
                .setTypedConfig(EnvoyTypes.emptyConfig(FILTER_STATE_OVERRIDE_CONFIG)))
        .build();
  }

  /** Per-pod mode: bind to the pod's IP(s) inside the pod's namespace. */
  static BindConfig perPod(PodInfo pod, String netnsPath, TranslatorOptions options) {
    List<String> ips = pod.ips();
    BindConfig.Builder bind =
        BindConfig.newBuilder()
            .setSourceAddress(EnvoyBuilders.socketAddress(ips.get(0), 0).toBuilder()
                .setNetworkNamespaceFilepath(netnsPath))
            .addSocketOptions(soMark(options));
    boolean primaryIsV6 = EnvoyBuilders.isIpv6(ips.get(0));
    // one extra address of the other family, for dual-stack pods calling dual-stack services
    ips.stream()
        .filter(ip -> EnvoyBuilders.isIpv6(ip) != primaryIsV6)
        .findFirst()
        .ifPresent(ip -> bind.addExtraSourceAddresses(ExtraSourceAddress.newBuilder()
            .setAddress(EnvoyBuilders.socketAddress(ip, 0).toBuilder().setNetworkNamespaceFilepath(netnsPath))));
    return bind.build();
  }

  /**
   * The first network filter of a shared-mode passthrough chain: puts the pod's netns path into filter state
   * and shares it with the upstream connection (ONCE: the passthrough connects straight out). The path is a
   * validated literal without '%', so it cannot smuggle substitution-format commands.
   */
  static Filter setNetnsFilterState(String netnsPath) {
    return setFilterState(Config.newBuilder()
        .addOnNewConnection(netns(netnsPath, FilterStateValue.SharedWithUpstream.ONCE)));
  }

  /**
   * The first network filter of a shared-mode service chain: the pod's netns path, shared TRANSITIVE so it
   * crosses the internal listener of an HTTP port and still reaches the service cluster's upstream connection
   * (ONCE would stop at the hop and that connection would leave from the node's namespace: Envoy's
   * FilterStateImpl re-exports only TRANSITIVE objects); and tcp_proxy's per-connection cluster, named from the
   * original destination ({@link ResourceNames#DESTINATION_CLUSTER_FORMAT}), plus {@code suffix} for a
   * trafficDistribution variant ({@code @zone/{z}}, {@code @node/{n}}: a label value or a DNS subdomain, both
   * without '%', so the suffix is a literal to Envoy's formatter).
   */
  static Filter setServiceFilterState(String netnsPath, String suffix) {
    return setFilterState(Config.newBuilder()
        .addOnNewConnection(netns(netnsPath, FilterStateValue.SharedWithUpstream.TRANSITIVE))
        .addOnNewConnection(FilterStateValue.newBuilder()
            .setObjectKey(TCP_PROXY_CLUSTER_KEY)
            .setFormatString(SubstitutionFormatString.newBuilder()
                .setTextFormatSource(DataSource.newBuilder()
                    .setInlineString(ResourceNames.destinationClusterFormat(suffix))))));
  }

  private static FilterStateValue.Builder netns(String netnsPath, FilterStateValue.SharedWithUpstream sharing) {
    return FilterStateValue.newBuilder()
        .setObjectKey(NETNS_OBJECT_KEY)
        .setFactoryKey(HASHABLE_STRING_FACTORY)
        .setFormatString(SubstitutionFormatString.newBuilder()
            .setTextFormatSource(DataSource.newBuilder().setInlineString(netnsPath)))
        .setSharedWithUpstream(sharing);
  }

  private static Filter setFilterState(Config.Builder config) {
    return Filter.newBuilder()
        .setName(EnvoyBuilders.SET_FILTER_STATE_FILTER)
        .setTypedConfig(Any.pack(config.build()))
        .build();
  }

  private static SocketOption soMark(TranslatorOptions options) {
    return SocketOption.newBuilder()
        .setDescription("SO_MARK: skip the pod's outbound redirect")
        .setLevel(SOL_SOCKET)
        .setName(SO_MARK)
        .setIntValue(options.soMark())
        .setState(SocketOption.SocketState.STATE_PREBIND)
        .build();
  }

  /** The address a listener binds inside the pod's namespace. */
  static Address listenerAddress(String ip, int port, String netnsPath) {
    return Address.newBuilder()
        .setSocketAddress(EnvoyBuilders.socketAddress(ip, port).toBuilder().setNetworkNamespaceFilepath(netnsPath))
        .build();
  }
}
