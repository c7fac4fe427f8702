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
import io.nodemesh.model.TrafficDistribution;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Builds a pod's outbound listener {@code pod/{ns}/{pod}/outbound} (opened on the capture port inside the pod's
 * network namespace) and, in shared binding, the internal listener of each HTTP service port.
 *
 * <p>Shared binding (docs/TRANSLATOR.md "The service layer"): a loop guard for the capture port, one chain
 * for everything addressed to the service CIDRs that names the pod's netns and picks the cluster
 * {@code dst/{ip}/{port}} from the original destination, and a default chain to the passthrough cluster. Its
 * size does not depend on the number of services. A pod scoped by {@code nodemesh.io/upstreams} gets one such
 * chain per service port in its scope instead. Per-pod binding: a filter chain per service port with the pod's
 * own clusters (ARCHITECTURE.md §5, O(pods x ports)).
 */
public final class ListenerTranslator {

  static final String LOOP_GUARD_CHAIN = "loop-guard";
  static final String PASSTHROUGH_CHAIN = "passthrough";
  static final String SERVICES_CHAIN = "services";

  private ListenerTranslator() {}

  /**
   * The outbound listener of a meshed pod whose netns path has been validated.
   *
   * @param scope the service ports the pod may call ({@link UpstreamScope})
   * @param scoped whether the pod narrowed its scope with {@code nodemesh.io/upstreams}
   * @param match shared binding: what the service chains match and where the pod is ({@link ServiceMatch})
   * @param limits the pod's limits, enforced first on every chain that carries traffic (not the loop guard)
   */
  public static Listener outboundListener(PodInfo pod, String netnsPath, List<OutboundService> scope,
      boolean scoped, ServiceMatch match, PodLimits limits, TranslatorOptions options) {
    List<Filter> limitFilters = limits.filters(pod);
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
    Filter netnsFilter = null;
    if (binding == UpstreamBinding.SHARED) {
      netnsFilter = UpstreamBindings.setNetnsFilterState(netnsPath);
      Filter serviceFilterState = UpstreamBindings.setServiceFilterState(netnsPath, "");
      if (!scoped) {
        List<CidrRange> servicePrefixes = new ArrayList<>(match.services());
        // trafficDistribution: the asking services' ClusterIPs get a chain whose cluster name carries the
        // variant suffix; /32 and /128 beat the service CIDRs (Envoy picks the longest destination prefix). A pod
        // whose node has no zone (or is unknown) reaches them through the services chain, by base name.
        for (TrafficDistribution asked : List.of(TrafficDistribution.PREFER_SAME_NODE,
            TrafficDistribution.PREFER_SAME_ZONE)) {
          List<CidrRange> askingIps = match.distribution().getOrDefault(asked, ImmutableList.of());
          if (askingIps.isEmpty()) {
            continue;
          }
          Optional<Proximity> proximity = Proximity.of(asked, match.where());
          if (proximity.isPresent()) {
            String suffix = proximity.get().suffix();
            listener.addFilterChains(FilterChain.newBuilder()
                .setName(SERVICES_CHAIN + suffix)
                .setFilterChainMatch(FilterChainMatch.newBuilder().addAllPrefixRanges(askingIps))
                .addAllFilters(limitFilters)
                .addFilters(UpstreamBindings.setServiceFilterState(netnsPath, suffix))
                .addFilters(tcpProxy(SERVICES_CHAIN, ResourceNames.BLACKHOLE)));
          } else if (options.serviceCidrs().isEmpty()) {
            servicePrefixes.addAll(askingIps); // left out of match.services() for the chain above
          }
        }
        if (!servicePrefixes.isEmpty()) {
          listener.addFilterChains(FilterChain.newBuilder()
              .setName(SERVICES_CHAIN)
              .setFilterChainMatch(FilterChainMatch.newBuilder().addAllPrefixRanges(servicePrefixes))
              .addAllFilters(limitFilters)
              .addFilters(serviceFilterState)
              .addFilters(tcpProxy(SERVICES_CHAIN, ResourceNames.BLACKHOLE)));
        }
      } else {
        for (OutboundService outbound : scope) {
          Optional<Proximity> proximity = Proximity.of(outbound.service().trafficDistribution(), match.where());
          listener.addFilterChains(FilterChain.newBuilder()
              .setName(outbound.sharedName())
              .setFilterChainMatch(serviceMatch(outbound))
              .addAllFilters(limitFilters)
              .addFilters(proximity.isEmpty() ? serviceFilterState
                  : UpstreamBindings.setServiceFilterState(netnsPath, proximity.get().suffix()))
              .addFilters(tcpProxy(outbound.sharedName(), ResourceNames.BLACKHOLE)));
        }
      }
    } else {
      for (OutboundService outbound : scope) {
        listener.addFilterChains(perPodServiceChain(pod, outbound, limitFilters, options));
      }
    }
    listener.addFilterChains(FilterChain.newBuilder()
        .setName(LOOP_GUARD_CHAIN)
        .setFilterChainMatch(FilterChainMatch.newBuilder()
            .setDestinationPort(EnvoyBuilders.uint32(options.capturePort())))
        .addFilters(tcpProxy(ResourceNames.BLACKHOLE, ResourceNames.BLACKHOLE)));
    String passthrough = ResourceNames.passthroughCluster(pod, binding);
    listener.setDefaultFilterChain(FilterChain.newBuilder()
        .setName(PASSTHROUGH_CHAIN)
        .addAllFilters(limitFilters)
        .addAllFilters(withNetns(netnsFilter, tcpProxy(passthrough, passthrough))));
    return listener.build();
  }

  /**
   * {@code svc/{ns}/{svc}/{port}}: the internal listener of an HTTP service port (shared binding), node- and
   * pod-independent. Its connection manager balances each request onto the shared cluster; the pod's netns
   * arrives as filter state over the hop and makes the upstream connection leave from the pod.
   */
  public static Listener internalListener(OutboundService outbound, TranslatorOptions options) {
    return internalListener(outbound.sharedName(), options);
  }

  /**
   * The internal listener {@code name} whose connection manager reads the route config of the same name: the
   * base ({@code svc/...}) or a trafficDistribution variant ({@code svc/...@zone/{z}}).
   */
  public static Listener internalListener(String name, TranslatorOptions options) {
    return Listener.newBuilder()
        .setName(name)
        .setInternalListener(Listener.InternalListenerConfig.getDefaultInstance())
        .setTrafficDirection(TrafficDirection.OUTBOUND)
        .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
        .addFilterChains(FilterChain.newBuilder()
            .setName(name)
            .addFilters(httpConnectionManager(name, name, UpstreamBinding.SHARED, options.requestRatePerConnection())))
        .build();
  }

  private static FilterChainMatch serviceMatch(OutboundService outbound) {
    FilterChainMatch.Builder match =
        FilterChainMatch.newBuilder().setDestinationPort(EnvoyBuilders.uint32(outbound.port().port()));
    for (String clusterIp : outbound.service().clusterIps()) {
      match.addPrefixRanges(ServiceCidrs.host(clusterIp));
    }
    return match.build();
  }

  private static FilterChain perPodServiceChain(PodInfo pod, OutboundService outbound, List<Filter> limitFilters,
      TranslatorOptions options) {
    Filter terminal = terminal(outbound,
        ResourceNames.perPodServiceCluster(pod.key(), outbound.service().key(), outbound.port().port()), options);
    return FilterChain.newBuilder()
        .setName(outbound.sharedName())
        .setFilterChainMatch(serviceMatch(outbound))
        .addAllFilters(limitFilters)
        .addFilters(terminal)
        .build();
  }

  private static Filter terminal(OutboundService outbound, String cluster, TranslatorOptions options) {
    return outbound.protocol().http()
        ? httpConnectionManager(outbound.sharedName(), cluster, UpstreamBinding.PER_POD,
            options.requestRatePerConnection())
        : tcpProxy(outbound.sharedName(), cluster);
  }

  /**
   * Shared mode (internal listener): RDS of the shared route config. Per-pod mode: the route must name the pod's own cluster,
   * so a shared route config cannot serve it; the route is inlined instead (it changes only when the
   * service does, which rewrites this listener anyway).
   */
  private static Filter httpConnectionManager(String sharedName, String cluster, UpstreamBinding binding,
      int requestRatePerConnection) {
    HttpConnectionManager.Builder hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix(ResourceNames.statPrefix(sharedName))
            .setCodecType(HttpConnectionManager.CodecType.AUTO);
    if (requestRatePerConnection > 0) {
      hcm.addHttpFilters(PodLimits.requestRateFilter(ResourceNames.statPrefix(sharedName), requestRatePerConnection));
    }
    hcm.addHttpFilters(HttpFilter.newBuilder()
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
