package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.core.v3.TrafficDirection;
import io.envoyproxy.envoy.config.listener.v3.AdditionalAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.nodemesh.model.PodInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a pod's outbound listener {@code pod/{ns}/{pod}/outbound}: opened on the capture port inside the
 * pod's network namespace, with a filter chain per service port (ClusterIP + port match), a loop guard for
 * the capture port itself and a default chain to the passthrough cluster (DESIGN §5).
 */
public final class ListenerTranslator {

  static final String LOOP_GUARD_CHAIN = "loop-guard";
  static final String PASSTHROUGH_CHAIN = "passthrough";

  private ListenerTranslator() {}

  /** The outbound listener of a meshed pod whose netns path has been validated. */
  public static Listener outboundListener(
      PodInfo pod, String netnsPath, List<OutboundService> scope, TranslatorOptions options) {
    UpstreamBinding binding = options.upstreamBinding();
    Listener.Builder listener =
        Listener.newBuilder()
            .setName(ResourceNames.outboundListener(pod.key()))
            .setAddress(UpstreamBindings.listenerAddress("0.0.0.0", options.capturePort(), netnsPath))
            .setTrafficDirection(TrafficDirection.OUTBOUND)
            .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
            .addListenerFilters(ListenerFilter.newBuilder()
                .setName(EnvoyBuilders.ORIGINAL_DST_FILTER)
                .setTypedConfig(Any.pack(OriginalDst.getDefaultInstance())));
    if (pod.ips().stream().anyMatch(EnvoyBuilders::isIpv6)) {
      listener.addAdditionalAddresses(AdditionalAddress.newBuilder()
          .setAddress(UpstreamBindings.listenerAddress("::", options.capturePort(), netnsPath)));
    }
    for (OutboundService outbound : scope) {
      listener.addFilterChains(serviceChain(pod, netnsPath, outbound, binding));
    }
    listener.addFilterChains(FilterChain.newBuilder()
        .setName(LOOP_GUARD_CHAIN)
        .setFilterChainMatch(FilterChainMatch.newBuilder()
            .setDestinationPort(EnvoyBuilders.uint32(options.capturePort())))
        .addFilters(tcpProxy(ResourceNames.BLACKHOLE, ResourceNames.BLACKHOLE)));
    String passthrough = ResourceNames.passthroughCluster(pod, binding);
    listener.setDefaultFilterChain(FilterChain.newBuilder()
        .setName(PASSTHROUGH_CHAIN)
        .addAllFilters(withNetns(netnsPath, binding, tcpProxy(passthrough, passthrough))));
    return listener.build();
  }

  private static FilterChain serviceChain(
      PodInfo pod, String netnsPath, OutboundService outbound, UpstreamBinding binding) {
    FilterChainMatch.Builder match =
        FilterChainMatch.newBuilder().setDestinationPort(EnvoyBuilders.uint32(outbound.port().port()));
    for (String clusterIp : outbound.service().clusterIps()) {
      match.addPrefixRanges(CidrRange.newBuilder()
          .setAddressPrefix(clusterIp)
          .setPrefixLen(EnvoyBuilders.uint32(EnvoyBuilders.isIpv6(clusterIp) ? 128 : 32)));
    }
    String sharedName = outbound.sharedName();
    String cluster = binding == UpstreamBinding.SHARED
        ? sharedName
        : ResourceNames.perPodServiceCluster(pod.key(), outbound.service().key(), outbound.port().port());
    Filter terminal = outbound.protocol().http()
        ? httpConnectionManager(sharedName, cluster, binding)
        : tcpProxy(sharedName, cluster);
    return FilterChain.newBuilder()
        .setName(sharedName)
        .setFilterChainMatch(match)
        .addAllFilters(withNetns(netnsPath, binding, terminal))
        .build();
  }

  /**
   * Shared mode: RDS of the shared route config. Per-pod mode: the route must name the pod's own cluster,
   * so a shared route config cannot serve it; the route is inlined instead (it changes only when the
   * service does, which rewrites this listener anyway).
   */
  private static Filter httpConnectionManager(String sharedName, String cluster, UpstreamBinding binding) {
    HttpConnectionManager.Builder hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix(ResourceNames.statPrefix(sharedName))
            .setCodecType(HttpConnectionManager.CodecType.AUTO)
            .addHttpFilters(HttpFilter.newBuilder()
                .setName(EnvoyBuilders.ROUTER_FILTER)
                .setTypedConfig(Any.pack(Router.getDefaultInstance())));
    if (binding == UpstreamBinding.SHARED) {
      hcm.setRds(Rds.newBuilder().setConfigSource(EnvoyBuilders.ads()).setRouteConfigName(sharedName));
    } else {
      hcm.setRouteConfig(RouteTranslator.serviceRoutes(cluster, cluster));
    }
    return EnvoyBuilders.networkFilter(EnvoyBuilders.HTTP_CONNECTION_MANAGER_FILTER, hcm.build());
  }

  private static Filter tcpProxy(String statName, String cluster) {
    return EnvoyBuilders.networkFilter(
        EnvoyBuilders.TCP_PROXY_FILTER,
        TcpProxy.newBuilder().setStatPrefix(ResourceNames.statPrefix(statName)).setCluster(cluster).build());
  }

  private static List<Filter> withNetns(String netnsPath, UpstreamBinding binding, Filter terminal) {
    List<Filter> filters = new ArrayList<>(2);
    if (binding == UpstreamBinding.SHARED) {
      filters.add(UpstreamBindings.setNetnsFilterState(netnsPath));
    }
    filters.add(terminal);
    return ImmutableList.copyOf(filters);
  }
}
