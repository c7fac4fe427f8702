package io.nodemesh;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The package floors of docs/ARCHITECTURE.md §1: a package of the production code refers (by import or by full
 * name) only to packages on lower floors, so no cycle and no upward arrow can come back unnoticed.
 */
class PackageFloorsTest {

  private static final Map<String, Integer> FLOORS = Map.ofEntries(
      Map.entry("log", 0), Map.entry("flags", 0), Map.entry("api", 0), Map.entry("testkit", 0),
      Map.entry("model", 1), Map.entry("http", 1),
      Map.entry("k8s", 2), Map.entry("translate", 2), Map.entry("xds", 2),
      Map.entry("security", 3), Map.entry("pipeline", 3),
      Map.entry("admin", 4),
      Map.entry("common", 2),
      Map.entry("agent", 6), Map.entry("cli", 6),
      Map.entry("app", 7),
      Map.entry("demo", 8));
  private static final Pattern REFERENCE = Pattern.compile("\\bio\\.nodemesh\\.([a-z0-9]+)\\.");
  private static final List<Path> SOURCES = Stream.of("control-plane", "node-agent", "demo", "common", "k8s-watchers",
      "model", "api-protos", "xds-testkit").map(module -> Path.of("..", module, "src", "main", "java", "io", "nodemesh")).toList();

  @Test
  void everyPackageRefersOnlyToLowerFloors() throws IOException {
    List<String> upward = new ArrayList<>();
    int files = 0;
    for (Path root : SOURCES) {
      try (Stream<Path> walk = Files.walk(root)) {
        for (Path file : walk.filter(f -> f.toString().endsWith(".java")).toList()) {
          files++;
          String from = root.relativize(file).getName(0).toString();
          assertThat(FLOORS).as("floor of package io.nodemesh.%s (add it to ARCHITECTURE.md §1 and here)", from)
              .containsKey(from);
          Matcher reference = REFERENCE.matcher(Files.readString(file, StandardCharsets.UTF_8));
          while (reference.find()) {
            String to = reference.group(1);
            if (!to.equals(from) && FLOORS.getOrDefault(to, Integer.MAX_VALUE) >= FLOORS.get(from)) {
              upward.add(root.relativize(file) + " -> io.nodemesh." + to);
            }
          }
        }
      }
    }
    assertThat(files).as("source files read").isGreaterThan(100);
    assertThat(upward).as("references to a package on the same or a higher floor").isEmpty();
  }
}
