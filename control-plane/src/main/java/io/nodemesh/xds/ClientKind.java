package io.nodemesh.xds;

import java.util.Locale;

/** What is at the other end of a stream; {@link #toString} is the label logs, metrics and the admin endpoint show. */
public enum ClientKind {
  /** A node's Envoy: it receives its node's view (wildcard listeners and clusters). */
  ENVOY,
  /** A proxyless gRPC client: no node_name metadata, asks for listeners by name. */
  PROXYLESS;

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
