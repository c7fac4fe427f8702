package io.nodemesh.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.xds.NodeIdentity;
import io.nodemesh.xds.ResourceType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the convergence tracker keeps per node, and for how long. */
class ConvergenceTrackerTest {

  private static final NodeIdentity DEPARTED = new NodeIdentity("envoy-1", "node-1", true);
  private static final NodeIdentity STAYING = new NodeIdentity("envoy-2", "node-2", true);

  @Test
  void aNodeThatStoppedAckingIsForgottenOnceTheKeptGenerationsNoLongerReachItsAcks() {
    ConvergenceTracker tracker = new ConvergenceTracker((type, seconds) -> {});
    tracker.generationApplied(1, System.nanoTime());
    tracker.onAck(DEPARTED, ResourceType.LISTENER, 1, List.of(1L));

    for (long generation = 1; generation <= 4096; generation++) {
      tracker.generationApplied(generation, System.nanoTime());
      tracker.onAck(STAYING, ResourceType.LISTENER, generation, List.of(generation));
    }
    assertThat(tracker.trackedNodes()).as("generation 1 is still kept: its ACK can still answer").isEqualTo(2);
    assertThat(tracker.listenerConvergenceMillis("node-1", 1)).isPresent();

    for (long generation = 4097; generation <= 5120; generation++) {
      tracker.generationApplied(generation, System.nanoTime());
      tracker.onAck(STAYING, ResourceType.LISTENER, generation, List.of(generation));
    }
    assertThat(tracker.trackedNodes()).as("node-1's only ACK is older than every kept generation").isEqualTo(1);
    assertThat(tracker.listenerConvergenceMillis("node-1", 5000)).isEmpty();
    assertThat(tracker.listenerConvergenceMillis("node-2", 5120)).isPresent();
  }
}
