package io.nodemesh.translate;

import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;

/** One service port a pod may call through its outbound listener, with the protocol that decides its filters. */
public record OutboundService(ServiceInfo service, ServicePort port, PortProtocol protocol) {

  /** {@code svc/{ns}/{svc}/{port}}: the shared cluster, endpoints and route config name. */
  public String sharedName() {
    return ResourceNames.servicePort(service, port);
  }
}
