package io.nodemesh.xds;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Optional;

/**
 * What a client presents when its stream opens: the identity it claims in its first request, the address it
 * connects from, and the bearer token it sent as gRPC metadata ({@code authorization: Bearer ...}), if any.
 * Immutable.
 *
 * @param claimed the node id and the node whose view the client asks for
 * @param peer the transport's remote address (null when the transport has none)
 * @param bearerToken the token without the {@code Bearer } prefix
 */
public record ClientCredentials(NodeIdentity claimed, SocketAddress peer, Optional<String> bearerToken) {

  public ClientCredentials {
    bearerToken = bearerToken == null ? Optional.empty() : bearerToken;
  }

  /** The remote IP address, when the client came over TCP. */
  public Optional<InetAddress> peerAddress() {
    return peer instanceof InetSocketAddress inet && inet.getAddress() != null
        ? Optional.of(inet.getAddress())
        : Optional.empty();
  }

  /** The remote address as text for logs and status ("" when unknown). */
  public String peerText() {
    return peerAddress().map(InetAddress::getHostAddress).orElse(peer == null ? "" : peer.toString());
  }

  @Override
  public String toString() {
    // never print the token
    return "ClientCredentials{claimed=" + claimed + ", peer=" + peerText() + ", token="
        + (bearerToken.isPresent() ? "present" : "absent") + "}";
  }
}
