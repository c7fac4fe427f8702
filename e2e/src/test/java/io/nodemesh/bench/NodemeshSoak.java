package io.nodemesh.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The 30-minute soak of issue 9 (docs/RELIABILITY.md). Runs only in the {@code soak} Maven profile:
 * <pre>
 *   mvn -Pbench,soak -pl e2e -am verify -DskipTests
 * </pre>
 * Knobs: {@code -Dsoak.seconds}, {@code -Dsoak.changesPerSecond}, {@code -Dsoak.faults}, {@code -Dbench.nodes} and
 * the rest of {@link SoakConfig}. The report goes to {@code e2e/target/soak/report.md}. It fails on a lost
 * update (a correctness property), never on a heap or latency figure.
 */
class NodemeshSoak {

  @Test
  void churnWithRestartsLosesNoUpdate() throws Exception {
    SoakRun.Result result = new SoakRun(SoakConfig.fromSystemProperties()).execute();
    assertThat(result.lostUpdates()).as("lost updates; see target/soak/report.md").isZero();
  }
}
