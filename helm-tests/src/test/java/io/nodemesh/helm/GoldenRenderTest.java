package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

/**
 * The chart rendered with its default values is exactly {@code golden/default.yaml}: every change to the
 * manifests shows up as a reviewable diff. Run with {@code -Dgolden.update=true} to rewrite it.
 */
class GoldenRenderTest {

  private static final Path GOLDEN = Paths.get("src", "test", "resources", "golden", "default.yaml");
  private static final boolean UPDATE = Boolean.parseBoolean(System.getProperty("golden.update", "false"));

  @Test
  void defaultRenderMatchesTheGoldenFile() throws IOException {
    String rendered = HelmChart.template().renderText();
    if (UPDATE || !Files.exists(GOLDEN)) {
      Files.createDirectories(GOLDEN.getParent());
      Files.writeString(GOLDEN, rendered, StandardCharsets.UTF_8);
    }
    assertThat(rendered)
        .as("golden file %s (regenerate with -Dgolden.update=true and review the diff)", GOLDEN)
        .isEqualTo(Files.readString(GOLDEN, StandardCharsets.UTF_8));
  }

  @Test
  void renderingTwiceGivesByteIdenticalOutput() {
    String first = HelmChart.template().values("everything").renderText();
    String second = HelmChart.template().values("everything").renderText();

    assertThat(second).isEqualTo(first);
  }
}
