package io.nodemesh.agent;

import java.util.Locale;

/** The agent's answer to one plugin request: ok (rules in place), skip (pod not meshed) or error, with a reason. */
public record CniAnswer(Status status, String message) {

  /** How the request ended. */
  public enum Status { OK, SKIP, ERROR }

  public static CniAnswer ok(String message) {
    return new CniAnswer(Status.OK, message);
  }

  public static CniAnswer skip(String message) {
    return new CniAnswer(Status.SKIP, message);
  }

  public static CniAnswer error(String message) {
    return new CniAnswer(Status.ERROR, message);
  }

  /**
   * The response file's text. The message becomes part of the plugin's JSON output, so it is reduced to one line
   * of printable ASCII without quotes or backslashes.
   */
  public String fileText() {
    String safe = message.replaceAll("[^\\x20-\\x7e]|[\"\\\\]", " ");
    if (safe.length() > 400) {
      safe = safe.substring(0, 397) + "...";
    }
    return "status=" + status.name().toLowerCase(Locale.ROOT) + "\nmessage=" + safe + "\n";
  }
}
