package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;

/** {@code helm lint --strict} accepts the chart (templates, Chart.yaml, values against values.schema.json). */
class ChartLintTest {

  @Test
  void strictLintPassesWithoutErrorsOrWarnings() {
    LintResult result = HelmChart.lint();

    assertThat(result.isFailed()).as("lint failed: %s", result.getMessages()).isFalse();
    assertThat(result.getMessages()).noneMatch(message -> message.contains("[ERROR]") || message.contains("[WARNING]"));
  }
}
