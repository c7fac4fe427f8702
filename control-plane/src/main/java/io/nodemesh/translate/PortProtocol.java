package io.nodemesh.translate;

import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServicePort;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * How a service port's traffic is proxied: HTTP ports (HTTP/1.1 or HTTP/2 incl. gRPC) go through an
 * HttpConnectionManager so each request is load balanced; everything else is a TCP proxy.
 */
public enum PortProtocol {
  /** HTTP/1.1 upstream; downstream codec auto-detected. */
  HTTP1,
  /** HTTP/2 upstream (gRPC, h2c): per-request balancing cures the long-lived-connection imbalance. */
  HTTP2,
  /** Opaque TCP. */
  TCP;

  private static final Set<String> HTTP2_APP_PROTOCOLS = Set.of("grpc", "http2", "h2c", "kubernetes.io/h2c");
  private static final Set<String> HTTP2_NAME_PREFIXES = Set.of("grpc", "http2", "h2c");

  /** The protocol of a TCP service port, or empty for UDP/SCTP ports that the outbound listener never sees. */
  public static Optional<PortProtocol> of(ServicePort port) {
    if (port.protocol() != Protocol.TCP) {
      return Optional.empty();
    }
    if (port.appProtocol().isPresent()) {
      String app = port.appProtocol().get().toLowerCase(Locale.ROOT);
      if (HTTP2_APP_PROTOCOLS.contains(app)) {
        return Optional.of(HTTP2);
      }
      return Optional.of(app.equals("http") ? HTTP1 : TCP);
    }
    // Istio's port naming convention: <protocol>[-<suffix>]
    String name = port.name().toLowerCase(Locale.ROOT);
    int dash = name.indexOf('-');
    String prefix = dash < 0 ? name : name.substring(0, dash);
    if (HTTP2_NAME_PREFIXES.contains(prefix)) {
      return Optional.of(HTTP2);
    }
    return Optional.of(prefix.equals("http") ? HTTP1 : TCP);
  }

  /** Whether a service port carries HTTP (or gRPC): the ports HTTPRoutes and GRPCRoutes may attach to. */
  public static boolean carriesHttp(ServicePort port) {
    return of(port).map(PortProtocol::http).orElse(false);
  }

  public boolean http() {
    return this != TCP;
  }
}
