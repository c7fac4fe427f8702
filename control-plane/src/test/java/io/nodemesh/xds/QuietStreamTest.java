package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A stream nothing is pushed to must not pin old tables (and old resource versions) forever. */
class QuietStreamTest {

  private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
  private final Clock clock =
      new Clock() {
        @Override
        public ZoneOffset getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now.get();
        }
      };
  private final XdsTestServer server = new XdsTestServer(clock);

  @AfterEach
  void close() {
    server.close();
  }

  @Test
  void aQuietStreamIsReanchoredOnTheCurrentTablesWithoutBeingSentAnything() {
    server.put(endpoints("mine", "10.0.0.1", 80), endpoints("other", "10.0.0.1", 80));
    try (var envoy = AdsTestClient.Delta.connect(server.channel, envoyNode("quiet", "node-1"))) {
      envoy.subscribeResponseAck(ResourceType.ENDPOINT, "mine");
      server.awaitSynced("quiet", ResourceType.ENDPOINT);
      TypeState endpoints = server.stream("quiet").state(ResourceType.ENDPOINT);
      long anchored = endpoints.knownGeneration();
      assertThat(anchored).isPositive();

      for (int port = 81; port < 90; port++) {
        server.put(endpoints("other", "10.0.0.1", port));
      }
      assertThat(endpoints.knownGeneration()).isEqualTo(anchored);

      // two sweep intervals: the first sweep marks the generation, the second re-anchors what is older
      now.set(now.get().plus(Duration.ofMillis(XdsTunables.REANCHOR_INTERVAL_MILLIS)));
      server.put(endpoints("other", "10.0.0.1", 90));
      now.set(now.get().plus(Duration.ofMillis(XdsTunables.REANCHOR_INTERVAL_MILLIS)));
      long latest = server.put(endpoints("other", "10.0.0.1", 91)).generation();

      await().until(() -> endpoints.knownGeneration() == latest);
      envoy.expectNoResponse();
    }
  }
}
