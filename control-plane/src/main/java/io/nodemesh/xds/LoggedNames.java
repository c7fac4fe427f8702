package io.nodemesh.xds;

import com.google.common.collect.Iterables;
import io.nodemesh.log.SafeText;
import java.util.Collection;

/** Resource names for one log line: they may come from the client, so few, each made safe, then a count. */
final class LoggedNames {

  private LoggedNames() {}

  static String of(Collection<String> names) {
    String listed = Iterables.toString(Iterables.transform(
        Iterables.limit(names, XdsTunables.MAX_NAMES_IN_LOG), name -> SafeText.of(name, 100)));
    return names.size() <= XdsTunables.MAX_NAMES_IN_LOG ? listed
        : listed + " and " + (names.size() - XdsTunables.MAX_NAMES_IN_LOG) + " more";
  }
}
