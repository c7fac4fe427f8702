package io.nodemesh.http;

/** How the debug listener authenticates a request ({@code --debug-auth}). */
public enum DebugAuthMode {
  /** No check: only allowed while the debug listener binds a loopback address. */
  NONE,
  /**
   * A Kubernetes bearer token, checked with a TokenReview, whose user a SubjectAccessReview must allow to
   * {@code get} the non-resource URL {@link KubernetesDebugAccess#RBAC_PATH}.
   */
  TOKEN_REVIEW,
  /** A bearer token listed in {@code --debug-token-file} (one per line). */
  TOKEN_FILE
}
