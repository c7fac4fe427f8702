package io.nodemesh.translate;

import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;

/**
 * One service port a pod may call through its outbound listener, with the protocol that decides its filters.
 *
 * @param sharedName {@code svc/{ns}/{svc}/{port}}: the shared cluster, endpoints and route config name, computed
 *     once (it is looked up for every pod of every node; one String instance also keeps node views small)
 */
public record OutboundService(ServiceInfo service, ServicePort port, PortProtocol protocol, String sharedName) {

  public OutboundService(ServiceInfo service, ServicePort port, PortProtocol protocol) {
    this(service, port, protocol, ResourceNames.servicePort(service, port));
  }
}
