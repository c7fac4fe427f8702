package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit;
import io.nodemesh.api.envoy.EnvoyValidator;
import io.nodemesh.model.MeshStatus;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A pod's limits: the flags are defaults and ceilings, annotations may only lower them, and both filters lead. */
class PodLimitsTest {

  private static final PodLimits NODE_WIDE = new PodLimits(1000, 100);

  private static PodInfo pod(Map<String, String> annotations) {
    return new PodInfo("40000000-0000-0000-0000-000000000001", "shop", "web-0", Optional.of("node-a"),
        ImmutableList.of("10.1.0.5"), PodPhase.RUNNING, false, false, null,
        ImmutableSortedMap.copyOf(annotations), MeshStatus.meshed("/var/run/nodemesh/netns/web-0"));
  }

  private static PodLimits limits(Map<String, String> annotations, PodLimits defaults, List<String> problems) {
    return PodLimits.forPod(pod(annotations), defaults, problems::add);
  }

  @Test
  void withoutAnnotationsAPodGetsTheNodeWideLimits() {
    List<String> problems = new ArrayList<>();
    assertThat(limits(Map.of(), NODE_WIDE, problems)).isEqualTo(NODE_WIDE);
    assertThat(limits(Map.of(), PodLimits.NONE, problems).any()).isFalse();
    assertThat(problems).isEmpty();
  }

  @Test
  void annotationsLowerTheLimitsOrSetThemWhereTheFlagsLeaveThemOff() {
    List<String> problems = new ArrayList<>();
    Map<String, String> frugal = Map.of(PodLimits.MAX_CONNECTIONS_ANNOTATION, "50",
        PodLimits.MAX_CONNECTION_RATE_ANNOTATION, " 10 ");
    assertThat(limits(frugal, NODE_WIDE, problems)).isEqualTo(new PodLimits(50, 10));
    assertThat(limits(Map.of(PodLimits.MAX_CONNECTIONS_ANNOTATION, "5000000"), PodLimits.NONE, problems))
        .isEqualTo(new PodLimits(5_000_000, 0));
    assertThat(problems).isEmpty();
  }

  @Test
  void anAnnotationCannotRaiseALimitAndBadValuesKeepTheDefault() {
    List<String> problems = new ArrayList<>();
    for (String bad : List.of("1001", "0", "-5", "lots", "1e3", "", "99999999999", "12\u0007")) {
      problems.clear();
      assertThat(limits(Map.of(PodLimits.MAX_CONNECTIONS_ANNOTATION, bad), NODE_WIDE, problems))
          .as("'%s'", bad).isEqualTo(NODE_WIDE);
      assertThat(problems).as("'%s'", bad).singleElement().asString()
          .startsWith(PodLimits.MAX_CONNECTIONS_ANNOTATION).contains("1000 kept").doesNotContain("\u0007");
    }
    problems.clear();
    assertThat(limits(Map.of(PodLimits.MAX_CONNECTION_RATE_ANNOTATION, "x".repeat(10_000)), PodLimits.NONE,
        problems)).isEqualTo(PodLimits.NONE);
    assertThat(problems).singleElement().asString().contains("no limit kept").hasSizeLessThan(200);
  }

  @Test
  void aRequestRateAnnotationIsReportedAsNotEnforcedRatherThanIgnored() {
    List<String> problems = new ArrayList<>();
    assertThat(limits(Map.of(PodLimits.MAX_REQUEST_RATE_ANNOTATION, "100"), NODE_WIDE, problems)).isEqualTo(NODE_WIDE);
    assertThat(problems).singleElement().asString().startsWith("nodemesh.io/max-request-rate is not enforced");
  }

  @Test
  void valuesOutsideTheRangeAreRefusedAtTheFlag() {
    assertThatThrownBy(() -> new PodLimits(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PodLimits(0, PodLimits.MAX_VALUE + 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void everyTrafficChainStartsWithTheRateLimitThenTheCountAndTheLoopGuardHasNeither() throws Exception {
    PodInfo pod = pod(Map.of());
    Listener limited = outbound(pod, NODE_WIDE);
    Listener plain = outbound(pod, PodLimits.NONE);

    List<FilterChain> traffic = new ArrayList<>();
    for (FilterChain chain : limited.getFilterChainsList()) {
      if (chain.getName().equals(ListenerTranslator.LOOP_GUARD_CHAIN)) {
        assertThat(chain.getFiltersList()).extracting(f -> f.getName()).doesNotContain(
            PodLimits.CONNECTION_LIMIT_FILTER, PodLimits.LOCAL_RATE_LIMIT_FILTER);
      } else {
        traffic.add(chain);
      }
    }
    traffic.add(limited.getDefaultFilterChain());
    assertThat(traffic).hasSize(2).allSatisfy(chain -> {
      assertThat(chain.getFilters(0).getName()).isEqualTo(PodLimits.LOCAL_RATE_LIMIT_FILTER);
      assertThat(chain.getFilters(1).getName()).isEqualTo(PodLimits.CONNECTION_LIMIT_FILTER);
    });
    LocalRateLimit rate = traffic.get(0).getFilters(0).getTypedConfig().unpack(LocalRateLimit.class);
    assertThat(rate.getShareKey()).as("one bucket for every chain of the pod").isEqualTo("pod/shop/web-0/outbound");
    assertThat(rate.getTokenBucket().getMaxTokens()).isEqualTo(100);
    assertThat(rate).isEqualTo(traffic.get(1).getFilters(0).getTypedConfig().unpack(LocalRateLimit.class));
    assertThat(traffic.get(0).getFilters(1).getTypedConfig().unpack(ConnectionLimit.class).getMaxConnections()
        .getValue()).isEqualTo(1000);
    assertThat(EnvoyValidator.violations(limited)).isEmpty();

    // a measurement for docs/FAIRNESS.md, not a check: sizes are reported, not asserted
    int added = limited.getSerializedSize() - plain.getSerializedSize();
    System.out.printf("pod listener: %d B without limits, %d B with both (+%d B per pod)%n",
        plain.getSerializedSize(), limited.getSerializedSize(), added);
  }

  @Test
  void anHttpPortsSharedConnectionManagerLimitsRequestsOnEachConnectionBeforeRouting() throws Exception {
    ServicePort http = new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty());
    ServiceInfo service = new ServiceInfo("shop", "web", ImmutableList.of("10.96.0.10"), ImmutableList.of(http), null);
    OutboundService outbound = new OutboundService(service, http, PortProtocol.HTTP1);
    TranslatorOptions limited = new TranslatorOptions(UpstreamBinding.SHARED, 32 * 1024, 1337, 15001,
        java.time.Duration.ofSeconds(5), ImmutableList.of(), PodLimits.NONE, 20);

    Listener internal = ListenerTranslator.internalListener(outbound, limited);
    HttpConnectionManager hcm = internal.getFilterChains(0).getFilters(0).getTypedConfig()
        .unpack(HttpConnectionManager.class);

    assertThat(hcm.getHttpFiltersList()).extracting(filter -> filter.getName())
        .containsExactly(PodLimits.HTTP_LOCAL_RATE_LIMIT_FILTER, "envoy.filters.http.router");
    var rate = hcm.getHttpFilters(0).getTypedConfig()
        .unpack(io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit.class);
    assertThat(rate.getLocalRateLimitPerDownstreamConnection()).isTrue();
    assertThat(rate.getTokenBucket().getMaxTokens()).isEqualTo(20);
    assertThat(rate.getFilterEnabled().getDefaultValue().getNumerator()).as("off unless enabled").isEqualTo(100);
    assertThat(rate.getFilterEnforced().getDefaultValue().getNumerator()).as("counts only unless enforced")
        .isEqualTo(100);
    assertThat(EnvoyValidator.violations(internal)).isEmpty();
    assertThat(ListenerTranslator.internalListener(outbound, TranslatorOptions.DEFAULTS).toString())
        .as("off by default").doesNotContain("local_ratelimit");
  }

  private static Listener outbound(PodInfo pod, PodLimits limits) {
    TranslatorOptions options = TranslatorOptions.DEFAULTS.withServiceCidrs(ImmutableList.of("10.96.0.0/12"));
    return ListenerTranslator.outboundListener(pod, pod.mesh().netnsPath().orElseThrow(), List.of(), false,
        new ServiceMatch(ImmutableList.of(ServiceCidrs.parse("10.96.0.0/12")), ImmutableMap.of(), NodeLocality.NONE),
        limits, options);
  }
}
