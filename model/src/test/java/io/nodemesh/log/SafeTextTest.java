package io.nodemesh.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SafeTextTest {

  @Test
  void aNewlineCannotForgeASecondLogLine() {
    String forged = "envoy-1\n2026-12-05 WARN node authorization is off";
    assertThat(SafeText.of(forged)).doesNotContain("\n").startsWith("envoy-1\\u000a2026");
  }

  @Test
  void longTextIsCutAndSaysHowLongItWas() {
    String text = "x".repeat(20_000);
    String safe = SafeText.of(text);
    assertThat(safe).hasSizeLessThan(SafeText.MAX_LOG_CHARS + 30).endsWith("...(20000 chars)");
  }

  @Test
  void plainTextIsReturnedAsIs() {
    assertThat(SafeText.of("pod/default/web-1/outbound")).isEqualTo("pod/default/web-1/outbound");
    assertThat(SafeText.of(null)).isEqualTo("null");
  }

  @Test
  void truncateKeepsSurrogatePairsWhole() {
    String text = "a".repeat(9) + "\uD83D\uDE00" + "b".repeat(10);
    assertThat(SafeText.truncate(text, 10)).startsWith("a".repeat(9) + "...");
    assertThat(SafeText.truncate("short", 10)).isEqualTo("short");
  }

  @Test
  void throttleLetsOneWarningThroughPerIntervalAndCountsTheRest() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    LogThrottle throttle = new LogThrottle(10_000, now::get);
    assertThat(throttle.admit()).isZero();
    assertThat(throttle.admit()).isEqualTo(-1);
    assertThat(throttle.admit()).isEqualTo(-1);
    now.addAndGet(10_000_000_000L);
    assertThat(throttle.admit()).isEqualTo(2);
    assertThat(LogThrottle.suppressedNote(2)).isEqualTo(" (2 similar suppressed)");
    assertThat(LogThrottle.suppressedNote(0)).isEmpty();
  }

  @Test
  void printableKeepsReadableAsciiAndReplacesWhatCouldBreakAQuotedReport() {
    assertThat(SafeText.printable("http-web:8080", 80)).isEqualTo("http-web:8080");
    assertThat(SafeText.printable("a\nb\u001b[31m'\"\\é", 80)).isEqualTo("a?b?[31m????");
    assertThat(SafeText.printable("x".repeat(100), 40)).hasSize(40).endsWith("...");
    assertThat(SafeText.printable(null, 40)).isEqualTo("<none>");
  }
}
