package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reports while fail-open pods wait for their listener start fast and back off to one a second. */
class ReportPaceTest {

  @Test
  void doublesFromTheFastPaceToTheCeilingAndStartsOverForANewWaitingPod() {
    ReportPace pace = new ReportPace(20, 1_000);
    List<Long> waits = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      waits.add(pace.next());
    }
    assertThat(waits).containsExactly(20L, 40L, 80L, 160L, 320L, 640L, 1_000L, 1_000L, 1_000L);

    pace.reset();
    assertThat(pace.next()).isEqualTo(20L);
  }
}
