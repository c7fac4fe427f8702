package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;

/** Builds the node-independent resources of every TCP port of a service with a cluster IP, service layer included. */
public final class ServiceTranslator {

  private ServiceTranslator() {}

  /** One entry per TCP port; nothing for headless services, which clients reach by pod IP. */
  public static ImmutableList<ServicePortResources> translate(
      ServiceInfo service, ClusterState state, TranslatorOptions options) {
    if (service.headless()) {
      return ImmutableList.of();
    }
    ImmutableList.Builder<ServicePortResources> resources = ImmutableList.builder();
    for (ServicePort port : service.ports()) {
      PortProtocol.of(port).ifPresent(protocol -> {
        OutboundService outbound = new OutboundService(service, port, protocol);
        String name = outbound.sharedName();
        ObjectKey key = service.key();
        boolean sharedBinding = options.upstreamBinding() == UpstreamBinding.SHARED;
        boolean http = sharedBinding && protocol.http();
        ImmutableList.Builder<Cluster> destinations = ImmutableList.builder();
        if (sharedBinding) {
          for (String clusterIp : service.clusterIps()) {
            destinations.add(http
                ? ClusterTranslator.destinationInternalCluster(outbound, clusterIp, options)
                : ClusterTranslator.destinationServiceCluster(outbound, clusterIp, options));
          }
        }
        // routes attach to HTTP ports only (RouteResolution.statuses tells the others why)
        ImmutableList<RouteResolution.Entry> attached = protocol.http()
            ? RouteResolution.entriesFor(state, service, port) : ImmutableList.of();
        resources.add(new ServicePortResources(
            outbound,
            ClusterTranslator.sharedServiceCluster(outbound, options),
            EndpointTranslator.serviceEndpoints(service, port, state),
            attached.isEmpty() ? RouteTranslator.serviceRoutes(name, name) : RouteTranslator.meshRoutes(name, attached),
            RouteTranslator.backendNames(attached),
            ImmutableList.of(
                ProxylessTranslator.apiListener(ResourceNames.proxylessListener(key, port.port()), name),
                ProxylessTranslator.apiListener(ResourceNames.proxylessShortListener(key, port.port()), name)),
            http ? ListenerTranslator.internalListener(outbound, options) : null,
            destinations.build()));
      });
    }
    return resources.build();
  }
}
