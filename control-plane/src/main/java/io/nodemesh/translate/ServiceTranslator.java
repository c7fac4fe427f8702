package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;

/** Builds the node-independent resources of every TCP port of a service with a cluster IP. */
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
        resources.add(new ServicePortResources(
            outbound,
            ClusterTranslator.sharedServiceCluster(outbound, options),
            EndpointTranslator.serviceEndpoints(service, port, state),
            RouteTranslator.serviceRoutes(name, name),
            ImmutableList.of(
                ProxylessTranslator.apiListener(ResourceNames.proxylessListener(key, port.port()), name),
                ProxylessTranslator.apiListener(ResourceNames.proxylessShortListener(key, port.port()), name))));
      });
    }
    return resources.build();
  }
}
