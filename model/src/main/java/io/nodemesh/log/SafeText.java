package io.nodemesh.log;

import java.util.regex.Pattern;

/**
 * Makes text that came from outside (xDS requests, Kubernetes objects, HTTP requests, CNI arguments) safe for
 * one log line or one admin field: at most {@link #MAX_LOG_CHARS} characters and every control character
 * (newline, carriage return, escape, ...) written as {@code \\uXXXX}, so a value can neither forge a log line
 * nor flood the log.
 */
public final class SafeText {

  /** Longest client-supplied value a log line carries, before the "...(N chars)" marker. */
  public static final int MAX_LOG_CHARS = 200;

  /** What {@link #printable} replaces: anything but printable ASCII, and quotes and backslashes. */
  private static final Pattern NOT_PRINTABLE = Pattern.compile("[^\\x20-\\x7e]|[\"'\\\\]");

  private SafeText() {}

  /** {@code text} bounded to {@link #MAX_LOG_CHARS} characters with control characters escaped. */
  public static String of(String text) {
    return of(text, MAX_LOG_CHARS);
  }

  /** {@code text} bounded to {@code maxChars} characters with control characters escaped; null is "null". */
  public static String of(String text, int maxChars) {
    if (text == null) {
      return "null";
    }
    boolean cut = text.length() > maxChars;
    String bounded = cut ? text.substring(0, maxChars) : text;
    StringBuilder safe = null;
    for (int i = 0; i < bounded.length(); i++) {
      char c = bounded.charAt(i);
      if (isControl(c)) {
        if (safe == null) {
          safe = new StringBuilder(bounded.length() + 16).append(bounded, 0, i);
        }
        safe.append(String.format("\\u%04x", (int) c));
      } else if (safe != null) {
        safe.append(c);
      }
    }
    String result = safe == null ? bounded : safe.toString();
    return cut ? result + "...(" + text.length() + " chars)" : result;
  }

  /**
   * {@code text} for a problem report that quotes it: everything but printable ASCII (control characters,
   * non-ASCII, quotes, backslashes) becomes {@code ?} and more than {@code maxChars} characters are cut with
   * "...". Kubernetes names, ports and addresses are ASCII, so what is readable stays readable; null is
   * {@code <none>}.
   */
  public static String printable(String text, int maxChars) {
    if (text == null) {
      return "<none>";
    }
    String printable = NOT_PRINTABLE.matcher(text).replaceAll("?");
    return printable.length() <= maxChars ? printable : printable.substring(0, maxChars - 3) + "...";
  }

  /** Whether {@code c} must not reach a log line or an identity as it is (it could break or forge a line). */
  public static boolean isControl(char c) {
    return Character.isISOControl(c) || c == '\u2028' || c == '\u2029';
  }

  /**
   * {@code text} cut to at most {@code maxChars} characters (not escaped): for what is kept in memory or
   * shown to operators as data, such as a NACK message. A cut never splits a surrogate pair.
   */
  public static String truncate(String text, int maxChars) {
    if (text == null || text.length() <= maxChars) {
      return text;
    }
    int end = maxChars;
    if (end > 0 && Character.isHighSurrogate(text.charAt(end - 1))) {
      end--;
    }
    return text.substring(0, end) + "...(" + text.length() + " chars)";
  }
}
