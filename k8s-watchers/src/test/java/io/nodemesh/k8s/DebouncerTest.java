package io.nodemesh.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DebouncerTest {

  private static final Duration QUIET = Duration.ofMillis(10);
  private static final Duration MAX = Duration.ofMillis(100);

  private final FakeScheduler scheduler = new FakeScheduler();
  private final Debouncer debouncer = new Debouncer(QUIET, MAX, scheduler);
  private final List<StateUpdate> batches = new ArrayList<>();

  DebouncerTest() {
    debouncer.subscribe(batches::add);
  }

  @Test
  void aSingleUpdateIsFlushedAfterTheQuietPeriod() {
    debouncer.accept(update(1, podChange("a", "node-1", 5)));

    scheduler.advance(QUIET.minusNanos(1));
    assertThat(batches).isEmpty();

    scheduler.advance(Duration.ofNanos(1));
    assertThat(batches).singleElement().satisfies(batch -> {
      assertThat(batch.generation()).isEqualTo(1);
      assertThat(batch.change().pods()).containsExactly(ObjectKey.of("ns", "a"));
    });
  }

  @Test
  void aBurstWithinTheQuietPeriodBecomesOneBatchWithTheLatestStateAndTheUnionOfChanges() {
    debouncer.accept(update(1, podChange("a", "node-1", 500)));
    scheduler.advance(Duration.ofMillis(3));
    debouncer.accept(update(2, podChange("b", "node-2", 300)));
    scheduler.advance(Duration.ofMillis(3));
    debouncer.accept(update(3, podChange("c", "node-1", 400)));

    scheduler.advance(Duration.ofMillis(50));

    assertThat(batches).singleElement().satisfies(batch -> {
      assertThat(batch.generation()).isEqualTo(3);
      assertThat(batch.change().pods())
          .containsExactlyInAnyOrder(ObjectKey.of("ns", "a"), ObjectKey.of("ns", "b"), ObjectKey.of("ns", "c"));
      assertThat(batch.change().podNodes()).containsExactlyInAnyOrder("node-1", "node-2");
      assertThat(batch.change().earliestEventNanos()).isEqualTo(300);
    });
  }

  @Test
  void theQuietPeriodRestartsWithEveryUpdate() {
    debouncer.accept(update(1, podChange("a", "node-1", 1)));
    scheduler.advance(Duration.ofMillis(8));
    debouncer.accept(update(2, podChange("b", "node-1", 2)));
    scheduler.advance(Duration.ofMillis(8));

    assertThat(batches).as("only 8 ms since the last update").isEmpty();

    scheduler.advance(Duration.ofMillis(2));
    assertThat(batches).hasSize(1);
  }

  @Test
  void aSteadyStreamIsFlushedAtTheMaximumDelay() {
    // an update every 5 ms never leaves a 10 ms quiet gap
    for (int i = 0; i < 100; i++) {
      debouncer.accept(update(i + 1, podChange("p" + i, "node-1", i)));
      scheduler.advance(Duration.ofMillis(5));
    }

    // 500 ms of stream at most 100 ms per batch: five batches, each holding twenty updates
    assertThat(batches).hasSize(5);
    assertThat(batches).allSatisfy(batch -> assertThat(batch.change().pods()).hasSize(20));
  }

  @Test
  void updatesAfterAFlushStartANewBatch() {
    debouncer.accept(update(1, podChange("a", "node-1", 1)));
    scheduler.advance(QUIET);
    debouncer.accept(update(2, podChange("b", "node-2", 2)));
    scheduler.advance(QUIET);

    assertThat(batches).extracting(StateUpdate::generation).containsExactly(1L, 2L);
    assertThat(batches.get(1).change().pods()).containsExactly(ObjectKey.of("ns", "b"));
    assertThat(debouncer.batchesFlushed()).isEqualTo(2);
  }

  @Test
  void theFullFlagSurvivesMerging() {
    debouncer.accept(update(1, Change.full(7)));
    debouncer.accept(update(2, podChange("a", "node-1", 9)));
    scheduler.advance(QUIET);

    assertThat(batches).singleElement().satisfies(batch -> {
      assertThat(batch.change().full()).isTrue();
      assertThat(batch.change().earliestEventNanos()).isEqualTo(7);
    });
  }

  @Test
  void nothingIsFlushedAndNoTimerIsLeftWithoutUpdates() {
    scheduler.advance(Duration.ofSeconds(1));
    debouncer.accept(update(1, podChange("a", "node-1", 1)));
    scheduler.advance(Duration.ofSeconds(1));

    assertThat(batches).hasSize(1);
    assertThat(scheduler.pendingTimers()).isZero();
  }

  @Test
  void aFailingSubscriberDoesNotStopOthersOrLaterBatches() {
    List<StateUpdate> seen = new ArrayList<>();
    Debouncer withFailure = new Debouncer(QUIET, MAX, scheduler);
    withFailure.subscribe(update -> {
      throw new IllegalStateException("boom");
    });
    withFailure.subscribe(seen::add);

    withFailure.accept(update(1, podChange("a", "node-1", 1)));
    scheduler.advance(QUIET);
    withFailure.accept(update(2, podChange("b", "node-1", 2)));
    scheduler.advance(QUIET);

    assertThat(seen).hasSize(2);
  }

  @Test
  void anUpdateDeliveredAfterCloseIsDroppedWithoutAnError() {
    // on SIGTERM the state store may deliver its last batch after the debouncer closed (ControlPlaneAppIT saw it)
    Debouncer real = Debouncer.create(new WatcherOptions(QUIET, MAX, Duration.ZERO, Duration.ofSeconds(60)));
    real.close();

    real.accept(update(1, podChange("a", "node-1", 1)));

    assertThat(real.updatesReceived()).isEqualTo(1);
    assertThat(real.batchesFlushed()).isZero();
  }

  @Test
  void aMaximumShorterThanTheQuietPeriodIsRefused() {
    assertThatThrownBy(() -> new Debouncer(Duration.ofMillis(10), Duration.ofMillis(5), scheduler))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void earliestEventTimeComparesCorrectlyAcrossNanoTimeOverflow() {
    assertThat(Change.earlier(Long.MAX_VALUE, Long.MIN_VALUE)).isEqualTo(Long.MAX_VALUE);
    assertThat(Change.earlier(5, 3)).isEqualTo(3);
  }

  private static StateUpdate update(long generation, Change change) {
    return new StateUpdate(ClusterState.empty(), change, generation);
  }

  private static Change podChange(String pod, String node, long observedNanos) {
    return Change.builder().pod(ObjectKey.of("ns", pod)).podNode(node).observedAt(observedNanos).build();
  }
}
