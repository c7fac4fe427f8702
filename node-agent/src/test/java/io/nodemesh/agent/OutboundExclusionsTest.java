package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OutboundExclusionsTest {

  @Test
  void portsAndCidrsAreParsedSortedAndDeduplicated() {
    OutboundExclusions exclusions = OutboundExclusions.fromAnnotations(Map.of(
        OutboundExclusions.PORTS_ANNOTATION, " 6379, 5432,6379 ",
        OutboundExclusions.CIDRS_ANNOTATION, "10.0.0.0/8, 192.168.1.7,0.0.0.0/0"));

    assertThat(exclusions.ports()).containsExactly(5432, 6379);
    assertThat(exclusions.cidrs()).containsExactly("0.0.0.0/0", "10.0.0.0/8", "192.168.1.7/32");
    assertThat(exclusions.problems()).isEmpty();
  }

  @Test
  void noAnnotationsMeanNoExclusions() {
    assertThat(OutboundExclusions.fromAnnotations(Map.of())).isEqualTo(OutboundExclusions.NONE);
    assertThat(OutboundExclusions.fromAnnotations(Map.of(OutboundExclusions.PORTS_ANNOTATION, " ")).ports()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "80 -j ACCEPT", "80;iptables -F", "0", "65536", "080", "-1", "80,,443", "80\n443", "http", "1e3", "80-90",
      "99999999999999999999"})
  void hostilePortValuesAreRejectedAsAWholeWithAReason(String value) {
    OutboundExclusions exclusions = OutboundExclusions.fromAnnotations(Map.of(
        OutboundExclusions.PORTS_ANNOTATION, "443," + value,
        OutboundExclusions.CIDRS_ANNOTATION, "10.0.0.0/8"));

    assertThat(exclusions.ports()).as("nothing of a rejected annotation is used").isEmpty();
    assertThat(exclusions.cidrs()).as("the other annotation is unaffected").containsExactly("10.0.0.0/8");
    assertThat(exclusions.problems()).singleElement().asString()
        .startsWith(OutboundExclusions.PORTS_ANNOTATION + " rejected: ")
        .doesNotContain("\n").doesNotContain("\"");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "10.0.0.0/33", "010.0.0.0/8", "10.0.0.256", "10.0.0.0/08", "10.0.0.0/8 -j ACCEPT", "10.0.0/8", "example.com",
      "10.0.0.0/", "1.2.3.4/32/1", "::1/129", "fe80::1%eth0", "$(reboot)"})
  void hostileCidrValuesAreRejectedAsAWholeWithAReason(String value) {
    OutboundExclusions exclusions =
        OutboundExclusions.fromAnnotations(Map.of(OutboundExclusions.CIDRS_ANNOTATION, "192.168.0.0/16," + value));

    assertThat(exclusions.cidrs()).isEmpty();
    assertThat(exclusions.problems()).singleElement().asString()
        .startsWith(OutboundExclusions.CIDRS_ANNOTATION + " rejected: ");
  }

  @Test
  void aCidrWithHostBitsSetIsRejectedWithTheLikelyIntent() {
    OutboundExclusions exclusions =
        OutboundExclusions.fromAnnotations(Map.of(OutboundExclusions.CIDRS_ANNOTATION, "10.1.2.3/8"));

    assertThat(exclusions.problems()).singleElement().asString().contains("did you mean 10.0.0.0/8?");
  }

  @Test
  void ipv6EntriesAreValidButNotRedirectedSoTheyAddNoRule() {
    OutboundExclusions exclusions = OutboundExclusions.fromAnnotations(Map.of(
        OutboundExclusions.CIDRS_ANNOTATION, "fd00::/8, 2001:db8::1, 10.0.0.0/8"));

    assertThat(exclusions.cidrs()).containsExactly("10.0.0.0/8");
    assertThat(exclusions.problems()).isEmpty();
  }

  @Test
  void oversizedAnnotationsAreRejectedBeforeParsing() {
    String many = "1,".repeat(OutboundExclusions.MAX_ENTRIES) + "2";
    String long_ = "1".repeat(OutboundExclusions.MAX_LENGTH + 1);

    assertThat(OutboundExclusions.fromAnnotations(Map.of(OutboundExclusions.PORTS_ANNOTATION, many)).problems())
        .singleElement().asString().contains("more than " + OutboundExclusions.MAX_ENTRIES + " entries");
    assertThat(OutboundExclusions.fromAnnotations(Map.of(OutboundExclusions.PORTS_ANNOTATION, long_)).problems())
        .singleElement().asString().contains("longer than");
  }

  @Test
  void rejectedValuesAreQuotedHarmlessly() {
    OutboundExclusions exclusions = OutboundExclusions.fromAnnotations(Map.of(
        OutboundExclusions.PORTS_ANNOTATION, "\"\\\u001b[31m" + "x".repeat(100)));

    assertThat(exclusions.problems()).singleElement().asString()
        .doesNotContain("\u001b").doesNotContain("\\").contains("...");
  }
}
