package io.nodemesh.xds;

import java.net.SocketAddress;
import java.util.Optional;

/**
 * What the transport tells about a stream before its first message: the remote address and the bearer
 * token from the {@code authorization} metadata. Immutable.
 */
record ClientConnection(SocketAddress remote, Optional<String> bearerToken) {

  static final ClientConnection UNKNOWN = new ClientConnection(null, Optional.empty());
}
