package io.nodemesh.model;

import java.util.Optional;

/** A port of an EndpointSlice; {@code name} matches the service port's name. */
public record EndpointPort(String name, int port, Protocol protocol, Optional<String> appProtocol) {

  public EndpointPort {
    name = name == null ? "" : name;
    protocol = protocol == null ? Protocol.TCP : protocol;
    appProtocol = appProtocol == null ? Optional.empty() : appProtocol;
  }
}
