package io.nodemesh.security;

import java.time.Instant;
import java.util.Optional;

/**
 * What the Kubernetes API said about a bearer token (TokenReview, authentication.k8s.io/v1), reduced to what
 * node authorization needs. Immutable; never holds the token itself.
 *
 * @param authenticated whether the API server accepted the token (for our audience)
 * @param error the API server's error when not authenticated
 * @param username e.g. {@code system:serviceaccount:nodemesh-system:nodemesh-envoy}
 * @param podName claim {@code authentication.kubernetes.io/pod-name} (bound tokens)
 * @param podUid claim {@code authentication.kubernetes.io/pod-uid}
 * @param nodeName claim {@code authentication.kubernetes.io/node-name} (Kubernetes >= 1.30)
 * @param expiry the token's {@code exp}, when readable
 */
public record ReviewedToken(
    boolean authenticated,
    String error,
    String username,
    Optional<String> podName,
    Optional<String> podUid,
    Optional<String> nodeName,
    Optional<Instant> expiry) {

  static final String SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

  public ReviewedToken {
    error = error == null ? "" : error;
    username = username == null ? "" : username;
    podName = podName == null ? Optional.empty() : podName;
    podUid = podUid == null ? Optional.empty() : podUid;
    nodeName = nodeName == null ? Optional.empty() : nodeName;
    expiry = expiry == null ? Optional.empty() : expiry;
  }

  /** A token the API server refused. */
  public static ReviewedToken rejected(String error) {
    return new ReviewedToken(false, error, "", Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
  }

  /** The service account's namespace, for a service-account user name. */
  public Optional<String> namespace() {
    if (!username.startsWith(SERVICE_ACCOUNT_PREFIX)) {
      return Optional.empty();
    }
    String rest = username.substring(SERVICE_ACCOUNT_PREFIX.length());
    int colon = rest.indexOf(':');
    return colon <= 0 ? Optional.empty() : Optional.of(rest.substring(0, colon));
  }
}
