package io.nodemesh.xds;

import java.util.concurrent.CompletableFuture;

/**
 * Decides which node's configuration a client may receive (ARCHITECTURE.md §4, issue 9 item 1). Called once per
 * stream, on the stream's executor, when the first request names the node; a slow check (an API call)
 * returns an incomplete future and the stream reads nothing more until it completes.
 *
 * <p>Implementations must be thread-safe and must not block.
 */
public interface ClientAuthorizer {

  /** Grants every client the view of the node it claims, as without authorization. */
  ClientAuthorizer ALLOW_ALL = new ClientAuthorizer() {
    @Override
    public CompletableFuture<Authorization> authorize(ClientCredentials client) {
      return CompletableFuture.completedFuture(
          Authorization.node(client.claimed().nodeName(), "none", "node authorization disabled (--node-auth=none)"));
    }

    @Override
    public boolean enforcing() {
      return false;
    }
  };

  /** The decision for one client; a failed future counts as "cannot be checked now" (UNAVAILABLE). */
  CompletableFuture<Authorization> authorize(ClientCredentials client);

  /**
   * Whether authorization is enforced. When it is, node-private resources (see
   * {@link XdsServerOptions#nodePrivateName()}) are served only through the wildcard view of the node a
   * client was authorized for, never by name.
   */
  default boolean enforcing() {
    return true;
  }
}
