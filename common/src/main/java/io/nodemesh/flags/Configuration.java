package io.nodemesh.flags;

import java.util.List;

/** The knobs of one process and the value in force for each, with where it came from: what /debug/config shows. */
public interface Configuration {

  /** Every knob of the process, in --help order. */
  List<Flag<?>> flags();

  /** The text value in force for {@code flag}. */
  String text(Flag<?> flag);

  /** Where that value came from: "flag", "env NODEMESH_..." or "default". */
  String source(Flag<?> flag);

  /** The value in force for {@code flag}, parsed (every value was checked when the configuration was built). */
  default <T> T get(Flag<T> flag) {
    return flag.parse(text(flag), source(flag));
  }
}
