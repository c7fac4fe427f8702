package io.nodemesh.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nodemesh.xds.AckTracker.Sent;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ACK tracking alone: which response an answer matches, what it leaves in flight, what the status shows. */
class AckTrackerTest {

  private final AckTracker acks = new AckTracker();

  private static Sent sent(long nonce) {
    return new Sent(nonce, "v" + nonce, 100 + nonce, 1_000 * nonce, List.of(), List.of(), false, List.of());
  }

  @Test
  void anAnsweredResponseLeavesNothingOfItsResourcesBehind() {
    // a node's whole CDS after a cold start: kept per stream and type it was 11 MB of heap at 200 nodes
    List<Resource> resources = new ArrayList<>(List.of(Resource.of(TestResources.cluster("c1"))));
    WeakReference<List<Resource>> held = new WeakReference<>(resources);
    acks.sent(new Sent(1, "v1", 101, 1_000, resources, List.of(), false, List.of()));
    acks.acked(acks.take(1, false), 2_000);
    resources = null;

    await().atMost(Duration.ofSeconds(30)).until(() -> {
      System.gc();
      return held.get() == null;
    });
    assertThat(acks.sentVersion()).as("the status still knows the response").isEqualTo("v1");
    assertThat(acks.sentGeneration()).isEqualTo(101);
  }

  @Test
  void sotwCountsOnlyTheLatestResponseAndAnAnswerToAnOlderOneIsStale() {
    acks.sent(sent(1));
    acks.sent(sent(2));

    assertThat(acks.take(1, true)).as("superseded by 2").isNull();
    assertThat(acks.awaitingAck()).isTrue();
    assertThat(acks.take(2, true)).isEqualTo(sent(2));
    assertThat(acks.awaitingAck()).isFalse();
    assertThat(acks.take(2, true)).as("answered already").isNull();
    assertThat(acks.answeredLatest(2)).as("a further request about the answered latest response is current").isTrue();
    assertThat(acks.answeredLatest(1)).isFalse();
  }

  @Test
  void deltaMatchesAnyResponseInFlightAndDropsTheOlderOnes() {
    acks.sent(sent(1));
    acks.sent(sent(2));
    acks.sent(sent(3));

    assertThat(acks.take(2, false)).isEqualTo(sent(2));
    assertThat(acks.inFlight()).containsExactly(sent(3));
    assertThat(acks.take(1, false)).as("left with the answer to 2").isNull();
    assertThat(acks.answeredLatest(3)).as("3 is still in flight").isFalse();
  }

  @Test
  void aNackThenAnAckOfTheNextResponse() {
    acks.sent(sent(1));
    acks.nacked("port 666 is forbidden");
    assertThat(acks.lastResponseNacked()).isTrue();
    assertThat(acks.nackError()).isEqualTo("port 666 is forbidden");
    assertThat(acks.ackedVersion()).isEmpty();

    acks.sent(sent(2));
    acks.acked(acks.take(2, true), 5_000);

    assertThat(acks.lastResponseNacked()).isFalse();
    assertThat(acks.ackedVersion()).isEqualTo("v2");
    assertThat(acks.ackedGeneration()).isEqualTo(102);
    assertThat(acks.ackedAtMillis()).isEqualTo(5_000);
    assertThat(acks.nackError()).as("the last NACK stays visible").isEqualTo("port 666 is forbidden");
    assertThat(acks.sentVersion()).isEqualTo("v2");
    assertThat(acks.sentNonce()).isEqualTo("2");
    assertThat(acks.sentGeneration()).isEqualTo(102);
    assertThat(acks.sentAtMillis()).isEqualTo(2_000);
  }

  @Test
  void aClientThatNeverAnswersHoldsABoundedNumberOfResponsesInFlight() {
    int sends = XdsTunables.MAX_OUTSTANDING_NONCES + 5;
    for (long nonce = 1; nonce <= sends; nonce++) {
      acks.sent(sent(nonce));
    }

    assertThat(acks.inFlight()).hasSize(XdsTunables.MAX_OUTSTANDING_NONCES);
    assertThat(acks.take(5, false)).as("forgotten: the oldest go first").isNull();
    assertThat(acks.take(6, false)).isEqualTo(sent(6));
    assertThat(acks.sentNonce()).isEqualTo(Integer.toString(sends));
  }

  @Test
  void nothingSentNothingToMatch() {
    assertThat(acks.take(1, false)).isNull();
    assertThat(acks.answeredLatest(1)).isFalse();
    assertThat(acks.sentNonce()).isEmpty();
    assertThat(acks.sentVersion()).isEmpty();
  }

  @Test
  void aReconnectingClientThatHoldsTheVersionCountsAsAckedWithoutAGeneration() {
    acks.heldFromEarlierStream("v7", 3_000);

    assertThat(acks.ackedVersion()).isEqualTo("v7");
    assertThat(acks.ackedAtMillis()).isEqualTo(3_000);
    assertThat(acks.ackedGeneration()).isZero();
    assertThat(acks.awaitingAck()).isFalse();
  }

  @Test
  void nackIsolationEndsAcceptedOrStillRejected() {
    acks.sent(sent(4));
    acks.acked(acks.take(4, false), 4_000);
    acks.nacked("bad");

    acks.isolationDone(90, 6_000, false);
    assertThat(acks.ackedGeneration()).as("never goes back").isEqualTo(104);
    assertThat(acks.lastResponseNacked()).isFalse();

    acks.isolationDone(200, 7_000, true);
    assertThat(acks.ackedGeneration()).isEqualTo(200);
    assertThat(acks.ackedAtMillis()).isEqualTo(7_000);
    assertThat(acks.lastResponseNacked()).as("resources stay withheld").isTrue();

    acks.acked(sent(4), 8_000);
    acks.isolationAbandoned();
    assertThat(acks.lastResponseNacked()).isTrue();
  }
}
