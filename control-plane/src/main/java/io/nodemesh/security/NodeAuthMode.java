package io.nodemesh.security;

/** How a client proves which node it runs on ({@code --node-auth}). */
public enum NodeAuthMode {
  /** No check: every client receives the view of the node it claims. Only for trusted networks and tests. */
  NONE,
  /** The stream's remote address must be an address of the claimed node, or the IP of the Envoy pod on it. */
  PEER,
  /** A Kubernetes bound service-account token (gRPC metadata) whose pod and node claims match the client. */
  TOKEN,
  /** Either of the above. */
  PEER_OR_TOKEN;

  public boolean usesPeer() {
    return this == PEER || this == PEER_OR_TOKEN;
  }

  public boolean usesToken() {
    return this == TOKEN || this == PEER_OR_TOKEN;
  }
}
