package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.flags.Flag;
import io.nodemesh.k8s.RouteStatusOptions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The route status flags: defaults, where the Lease's namespace and holder come from, and refused timings. */
class RouteStatusFlagsTest {

  @Test
  void byDefaultStatusesAreWrittenUnderALeaseInThePodsNamespaceNamedByThePod() {
    Settings defaults = Settings.defaults();
    assertThat(defaults.get(Settings.ROUTE_STATUS)).isTrue();

    RouteStatusOptions options = defaults.routeStatusOptions(
        Map.of("POD_NAMESPACE", "mesh", "POD_NAME", "nodemesh-control-plane-abc"), "host-1");

    assertThat(options.leaseNamespace()).isEqualTo("mesh");
    assertThat(options.leaseName()).isEqualTo("nodemesh-route-status");
    assertThat(options.identity()).isEqualTo("nodemesh-control-plane-abc");
    assertThat(options.leaseDuration()).isEqualTo(Duration.ofSeconds(15));
    assertThat(options.renewDeadline()).isEqualTo(Duration.ofSeconds(10));
    assertThat(options.retryPeriod()).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void withoutPodEnvironmentTheDefaultNamespaceAndTheHostNameAreUsed() {
    RouteStatusOptions options = Settings.defaults().routeStatusOptions(Map.of(), "host-1");
    assertThat(options.leaseNamespace()).isEqualTo("nodemesh-system");
    assertThat(options.identity()).isEqualTo("host-1");
  }

  @Test
  void anExplicitNamespaceWinsOverPodNamespace() {
    Settings settings = Settings.parse(new String[] {"--leader-election-namespace=elsewhere",
        "--leader-election-lease=status"}, Map.of());
    RouteStatusOptions options = settings.routeStatusOptions(Map.of("POD_NAMESPACE", "mesh"), "host-1");
    assertThat(options.leaseNamespace()).isEqualTo("elsewhere");
    assertThat(options.leaseName()).isEqualTo("status");
  }

  @Test
  void timingsThatLetTwoLeadersOverlapAreRefusedAtStartup() {
    assertThatThrownBy(() -> Settings.parse(new String[] {"--leader-election-lease-duration=5s",
        "--leader-election-renew-deadline=10s"}, Map.of()))
        .isInstanceOf(Flag.UsageException.class).hasMessageContaining("lease duration > renew deadline");
    assertThatThrownBy(() -> Settings.parse(new String[] {"--leader-election-lease="}, Map.of()))
        .isInstanceOf(Flag.UsageException.class);
  }
}
