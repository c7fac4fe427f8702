package io.nodemesh.model;

import java.util.Objects;
import java.util.Optional;

/** One port of a service; {@code appProtocol} and the port name decide HTTP/gRPC vs. TCP handling. */
public record ServicePort(
    String name, int port, String targetPort, Protocol protocol, Optional<String> appProtocol) {

  public ServicePort {
    name = name == null ? "" : name;
    targetPort = targetPort == null ? Integer.toString(port) : targetPort;
    protocol = protocol == null ? Protocol.TCP : protocol;
    appProtocol = appProtocol == null ? Optional.empty() : appProtocol;
    Objects.requireNonNull(protocol);
  }

  public static ServicePort tcp(String name, int port) {
    return new ServicePort(name, port, Integer.toString(port), Protocol.TCP, Optional.empty());
  }
}
