package io.nodemesh.http;

import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Decides from a request's {@code Authorization} header whether it may reach the debug endpoints. Implementations
 * are thread-safe and do not block the caller.
 */
public interface DebugAccess {

  /** The verdict for one request; never completes exceptionally (an unreachable API is {@link Outcome#UNAVAILABLE}). */
  CompletableFuture<Verdict> check(String authorizationHeader);

  /** What the startup log and {@code /debug} say about the check, e.g. "token-file /etc/nodemesh/debug/tokens". */
  String description();

  /** Every request is let through: for a listener that only loopback clients can reach. */
  static DebugAccess open() {
    return new DebugAccess() {
      @Override
      public CompletableFuture<Verdict> check(String authorizationHeader) {
        return CompletableFuture.completedFuture(Verdict.allowed("anonymous (no authentication configured)"));
      }

      @Override
      public String description() {
        return "none";
      }
    };
  }

  /** The token of an {@code Authorization: Bearer <token>} header, or empty for any other or no header. */
  static Optional<String> bearerToken(String authorizationHeader) {
    if (authorizationHeader == null) {
      return Optional.empty();
    }
    String header = authorizationHeader.trim();
    int space = header.indexOf(' ');
    if (space <= 0 || !header.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")) {
      return Optional.empty();
    }
    String token = header.substring(space + 1).trim();
    return token.isEmpty() || token.chars().anyMatch(c -> c <= ' ' || c >= 0x7f) ? Optional.empty() : Optional.of(token);
  }

  /** What happened to a request, as its HTTP status. */
  enum Outcome {
    ALLOWED(200),
    /** No token, a malformed one, or one nobody vouches for. */
    UNAUTHENTICATED(401),
    /** A valid token whose user may not read the debug endpoints. */
    FORBIDDEN(403),
    /** The Kubernetes API could not be asked. */
    UNAVAILABLE(503);

    private final int status;

    Outcome(int status) {
      this.status = status;
    }

    public int status() {
      return status;
    }
  }

  /**
   * One decision.
   *
   * @param outcome allowed or why not
   * @param subject who asked, when known (a Kubernetes user name, "static token"); safe to log after SafeText
   * @param reason why not, for the log and the client (never the token)
   */
  record Verdict(Outcome outcome, String subject, String reason) {
    public static Verdict allowed(String subject) {
      return new Verdict(Outcome.ALLOWED, subject, "");
    }

    public static Verdict refused(Outcome outcome, String subject, String reason) {
      return new Verdict(outcome, subject, reason);
    }

    public boolean isAllowed() {
      return outcome == Outcome.ALLOWED;
    }
  }
}
