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
import java.util.List;

/**
 * Builds a pod's outbound listener {@code pod/{ns}/{pod}/outbound}: opened on the capture port inside the
 * pod's network namespace, with a filter chain per service port (ClusterIP + port match), a loop guard for
 * the capture port itself and a default chain to the passthrough cluster (DESIGN §5).
 */
public final class ListenerTranslator {

  static final String LOOP_GUARD_CHAIN = "loop-guard";
  static final String PASSTHROUGH_CHAIN = "passthrough";

  /** Shared binding: the terminal filter of each service port's chain, identical in every pod's listener. */
  private static final java.util.concurrent.ConcurrentMap<OutboundService, Filter> SHARED_TERMINALS =
      com.google.common.cache.CacheBuilder.newBuilder().weakKeys().<OutboundService, Filter>build().asMap();

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
    // the same for every chain of this pod: build (and serialise) it once
    Filter netnsFilter = binding == UpstreamBinding.SHARED ? UpstreamBindings.setNetnsFilterState(netnsPath) : null;
    for (OutboundService outbound : scope) {
      listener.addFilterChains(serviceChain(pod, netnsFilter, outbound, binding));
    }
    listener.addFilterChains(FilterChain.newBuilder()
        .setName(LOOP_GUARD_CHAIN)
        .setFilterChainMatch(FilterChainMatch.newBuilder()
            .setDestinationPort(EnvoyBuilders.uint32(options.capturePort())))
        .addFilters(tcpProxy(ResourceNames.BLACKHOLE, ResourceNames.BLACKHOLE)));
    String passthrough = ResourceNames.passthroughCluster(pod, binding);
    listener.setDefaultFilterChain(FilterChain.newBuilder()
        .setName(PASSTHROUGH_CHAIN)
        .addAllFilters(withNetns(netnsFilter, tcpProxy(passthrough, passthrough))));
    return listener.build();
  }

  private static FilterChain serviceChain(
      PodInfo pod, Filter netnsFilter, OutboundService outbound, UpstreamBinding binding) {
    FilterChainMatch.Builder match =
        FilterChainMatch.newBuilder().setDestinationPort(EnvoyBuilders.uint32(outbound.port().port()));
    for (String clusterIp : outbound.service().clusterIps()) {
      match.addPrefixRanges(CidrRange.newBuilder()
          .setAddressPrefix(clusterIp)
          .setPrefixLen(EnvoyBuilders.uint32(EnvoyBuilders.isIpv6(clusterIp) ? 128 : 32)));
    }
    String sharedName = outbound.sharedName();
    Filter terminal = binding == UpstreamBinding.SHARED
        // the same for every pod that calls this port: built once per service port (the cache holds the port
        // weakly, by identity: a retranslated service brings new ports and the old entries go)
        ? sharedTerminal(outbound)
        : terminal(outbound,
            ResourceNames.perPodServiceCluster(pod.key(), outbound.service().key(), outbound.port().port()), binding);
    return FilterChain.newBuilder()
        .setName(sharedName)
        .setFilterChainMatch(match)
        .addAllFilters(withNetns(netnsFilter, terminal))
        .build();
  }

  private static Filter sharedTerminal(OutboundService outbound) {
    Filter terminal = SHARED_TERMINALS.get(outbound); // lock-free on a hit, unlike computeIfAbsent
    if (terminal == null) {
      terminal = terminal(outbound, outbound.sharedName(), UpstreamBinding.SHARED);
      Filter raced = SHARED_TERMINALS.putIfAbsent(outbound, terminal);
      terminal = raced == null ? terminal : raced;
    }
    return terminal;
  }

  private static Filter terminal(OutboundService outbound, String cluster, UpstreamBinding binding) {
    return outbound.protocol().http()
        ? httpConnectionManager(outbound.sharedName(), cluster, binding)
        : tcpProxy(outbound.sharedName(), cluster);
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

  /** Shared binding: the pod's netns filter state first, then the terminal filter; per-pod: the terminal only. */
  private static List<Filter> withNetns(Filter netnsFilter, Filter terminal) {
    return netnsFilter == null ? ImmutableList.of(terminal) : ImmutableList.of(netnsFilter, terminal);
  }
}
