package io.nodemesh.flags;

import com.google.common.collect.ImmutableMap;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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

  public static Flag<Integer> integer(String name, int defaultValue, int min, int max, String description) {
    return new Flag<>(name, Integer.toString(defaultValue), description, "an integer " + min + "-" + max, text -> {
      int value = Integer.parseInt(text.trim());
      if (value < min || value > max) {
        throw new IllegalArgumentException("out of range");
      }
      return value;
    });
  }

  public static Flag<Boolean> bool(String name, boolean defaultValue, String description) {
    return new Flag<>(name, Boolean.toString(defaultValue), description, "true or false", text -> {
      String value = text.trim().toLowerCase(Locale.ROOT);
      if (!value.equals("true") && !value.equals("false")) {
        throw new IllegalArgumentException("not a boolean");
      }
      return Boolean.parseBoolean(value);
    });
  }

  public static Flag<String> text(String name, String defaultValue, String description) {
    return new Flag<>(name, defaultValue, description, "a string", text -> text);
  }

  public static Flag<Duration> duration(String name, String defaultValue, Duration min, String description) {
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
  public static <E extends Enum<E>> Flag<E> choice(String name, E defaultValue, Class<E> type, String description) {
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

  /** The flag list of a {@code --help}: each flag with its description, default, environment variable and values. */
  public static String describe(List<Flag<?>> flags) {
    StringBuilder text = new StringBuilder();
    for (Flag<?> flag : flags) {
      text.append(String.format("  --%-22s %s%n  %-24s default %s; env %s; %s%n",
          flag.name(), flag.description(), "", flag.defaultValue(), flag.env(), flag.accepts()));
    }
    return text.toString();
  }

  /** Parses a value; the exception names the flag and what it accepts. */
  public T parse(String text) {
    return parse(text, "flag");
  }

  /**
   * Parses a value that came from {@code source} ("flag", "env NODEMESH_...", "default"): an invalid value from
   * the environment is reported against the variable that set it, which is what the operator has to change.
   */
  public T parse(String text, String source) {
    try {
      return parser.apply(text);
    } catch (RuntimeException e) {
      String where = source != null && source.startsWith("env ") ? source.substring(4) + " (--" + name + ")"
          : "--" + name;
      throw new UsageException("invalid value '" + text + "' for " + where + ": expected " + accepts);
    }
  }

  /**
   * The text value of every flag of {@code flags} and where it came from, resolved from {@code --name=value} /
   * {@code --name value} arguments (a bare boolean flag means true), then {@code NODEMESH_*} environment
   * variables, then defaults. Values are not parsed here; callers parse them all so a bad one fails at startup.
   *
   * @throws UsageException for unknown flags, stray arguments and missing values
   */
  public static Resolved resolve(List<Flag<?>> flags, String[] args, Map<String, String> env) {
    Map<String, Flag<?>> byName = new HashMap<>();
    flags.forEach(flag -> byName.put(flag.name(), flag));
    Map<String, String> values = new HashMap<>();
    Map<String, String> sources = new HashMap<>();
    for (Flag<?> flag : flags) {
      String fromEnv = env.get(flag.env());
      values.put(flag.name(), fromEnv != null ? fromEnv : flag.defaultValue());
      sources.put(flag.name(), fromEnv != null ? "env " + flag.env() : "default");
    }
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) {
        throw new UsageException("unexpected argument '" + arg + "': flags look like --name=value (see --help)");
      }
      String name = arg.substring(2);
      String value = null;
      int equals = name.indexOf('=');
      if (equals >= 0) {
        value = name.substring(equals + 1);
        name = name.substring(0, equals);
      }
      Flag<?> flag = byName.get(name);
      if (flag == null) {
        throw new UsageException("unknown flag --" + name + " (see --help)");
      }
      if (value == null) {
        boolean isBoolean = flag.accepts().equals("true or false");
        if (isBoolean && (i + 1 >= args.length || args[i + 1].startsWith("--"))) {
          value = "true";
        } else if (i + 1 < args.length) {
          value = args[++i];
        } else {
          throw new UsageException("flag --" + name + " needs a value: " + flag.accepts());
        }
      }
      values.put(name, value);
      sources.put(name, "flag");
    }
    return new Resolved(ImmutableMap.copyOf(values), ImmutableMap.copyOf(sources));
  }

  /** Flag name -> text value in force, and flag name -> "flag", "env NODEMESH_..." or "default". */
  public record Resolved(ImmutableMap<String, String> values, ImmutableMap<String, String> sources) {}

  /** Thrown for unknown flags and invalid values; the message is meant for the operator. */
  public static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
      super(message);
    }
  }
}
