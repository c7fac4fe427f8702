package io.nodemesh.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Paths;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The soak in miniature, in every build: a minute of churn on 12 nodes with the control plane killed, the API
 * server restarted and the control plane restarted, every client checked against the harness's model and a
 * fresh control plane after each fault and at the end. The full run is {@link NodemeshSoak}.
 */
class SoakIT {

  @Test
  void aMinuteOfChurnThroughThreeRestartsLosesNoUpdate() throws Exception {
    SoakConfig config = new SoakConfig(
        BenchConfig.fromSystemProperties().withScale(12, 240, 24, 4),
        Duration.ofSeconds(60),
        20,
        24,
        3,
        SoakConfig.parseFaults("control-plane-kill@0.2 api-server-restart@0.45 control-plane-restart@0.8"),
        Duration.ZERO,
        Duration.ofSeconds(20),
        Duration.ofSeconds(8),
        Duration.ofSeconds(2),
        Duration.ofSeconds(120),
        Paths.get("target/soak-it"));

    SoakRun.Result result = new SoakRun(config).execute();

    assertThat(result.faults()).extracting(SoakRun.Injected::kind).containsExactly(
        SoakConfig.FaultKind.CONTROL_PLANE_KILL, SoakConfig.FaultKind.API_SERVER_RESTART,
        SoakConfig.FaultKind.CONTROL_PLANE_RESTART);
    // start, one after each fault, end: each compared every node's every resource with a fresh control plane
    assertThat(result.checkpoints()).hasSize(5).allSatisfy(checkpoint -> {
      assertThat(checkpoint.lostUpdates()).as(checkpoint.reason() + ": " + checkpoint.differences()).isZero();
      assertThat(checkpoint.resourcesCompared()).isPositive();
    });
    assertThat(result.writes()).as("the writer kept changing the cluster").isGreaterThan(200);
    assertThat(result.reconnects()).as("every client reconnected after each control plane restart")
        .isGreaterThanOrEqualTo(2 * 12);
    assertThat(result.metrics().get("nodemesh_xds_nacks_total")).isZero();
  }
}
