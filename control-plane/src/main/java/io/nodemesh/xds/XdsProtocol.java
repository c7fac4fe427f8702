package io.nodemesh.xds;

import java.util.Locale;

/** The two ADS variants a stream speaks; {@link #toString} is the label logs and the admin endpoint show. */
public enum XdsProtocol {
  /** State of the world: every response carries the whole set of a type's subscribed resources. */
  SOTW,
  /** Incremental: responses carry what changed and what was removed. */
  DELTA;

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
