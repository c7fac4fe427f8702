package io.nodemesh.app;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One configuration knob, declared once: its flag name, environment variable, default, description and how
 * its text is parsed and checked. A value that does not parse fails with a message naming the flag and what
 * it accepts.
 *
 * @param <T> the parsed type
 */
public final class Flag<T> {

  private static final Pattern DURATION = Pattern.compile("([0-9]+)(ns|us|ms|s|m|h)");

  private final String name;
  private final String defaultValue;
  private final String description;
  private final String accepts;
  private final Function<String, T> parser;

  private Flag(String name, String defaultValue, String description, String accepts, Function<String, T> parser) {
    this.name = Objects.requireNonNull(name);
    this.defaultValue = Objects.requireNonNull(defaultValue);
    this.description = Objects.requireNonNull(description);
    this.accepts = Objects.requireNonNull(accepts);
    this.parser = Objects.requireNonNull(parser);
    parse(defaultValue); // a default that does not parse is a programming error: fail at class init
  }

  static Flag<Integer> integer(String name, int defaultValue, int min, int max, String description) {
    return new Flag<>(name, Integer.toString(defaultValue), description, "an integer " + min + "-" + max, text -> {
      int value = Integer.parseInt(text.trim());
      if (value < min || value > max) {
        throw new IllegalArgumentException("out of range");
      }
      return value;
    });
  }

  static Flag<Boolean> bool(String name, boolean defaultValue, String description) {
    return new Flag<>(name, Boolean.toString(defaultValue), description, "true or false", text -> {
      String value = text.trim().toLowerCase(Locale.ROOT);
      if (!value.equals("true") && !value.equals("false")) {
        throw new IllegalArgumentException("not a boolean");
      }
      return Boolean.parseBoolean(value);
    });
  }

  static Flag<String> text(String name, String defaultValue, String description) {
    return new Flag<>(name, defaultValue, description, "a string", text -> text);
  }

  static Flag<Duration> duration(String name, String defaultValue, Duration min, String description) {
    return new Flag<>(name, defaultValue, description, "a duration like 10ms, 5s, 1m (at least " + min.toMillis()
        + "ms)", text -> {
      Matcher match = DURATION.matcher(text.trim());
      if (!match.matches()) {
        throw new IllegalArgumentException("not a duration");
      }
      long amount = Long.parseLong(match.group(1));
      Duration value = switch (match.group(2)) {
        case "ns" -> Duration.ofNanos(amount);
        case "us" -> Duration.ofNanos(amount * 1000);
        case "ms" -> Duration.ofMillis(amount);
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        default -> Duration.ofHours(amount);
      };
      if (value.compareTo(min) < 0) {
        throw new IllegalArgumentException("too short");
      }
      return value;
    });
  }

  /** A flag whose values are an enum's constants, written in lower case with dashes ({@code PER_POD} -> per-pod). */
  static <E extends Enum<E>> Flag<E> choice(String name, E defaultValue, Class<E> type, String description) {
    String[] names = Arrays.stream(type.getEnumConstants()).map(Flag::spelling).toArray(String[]::new);
    return new Flag<>(name, spelling(defaultValue), description, "one of " + String.join(", ", names), text -> {
      for (E constant : type.getEnumConstants()) {
        if (spelling(constant).equals(text.trim().toLowerCase(Locale.ROOT))) {
          return constant;
        }
      }
      throw new IllegalArgumentException("unknown value");
    });
  }

  static String spelling(Enum<?> constant) {
    return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  public String name() {
    return name;
  }

  /** {@code NODEMESH_} plus the flag name in upper snake case: {@code --xds-port} is {@code NODEMESH_XDS_PORT}. */
  public String env() {
    return "NODEMESH_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  public String defaultValue() {
    return defaultValue;
  }

  public String description() {
    return description;
  }

  public String accepts() {
    return accepts;
  }

  /** Parses a value; the exception names the flag and what it accepts. */
  public T parse(String text) {
    try {
      return parser.apply(text);
    } catch (RuntimeException e) {
      throw new UsageException("invalid value '" + text + "' for --" + name + ": expected " + accepts);
    }
  }

  /** Thrown for unknown flags and invalid values; the message is meant for the operator. */
  public static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
      super(message);
    }
  }
}
