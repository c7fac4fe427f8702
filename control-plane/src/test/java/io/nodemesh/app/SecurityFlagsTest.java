package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.http.AdminServer;
import io.nodemesh.http.DebugAuthMode;
import io.nodemesh.flags.Flag;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.ClientAuthorizer;
import io.nodemesh.xds.XdsServerOptions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The security and limit flags: defaults, spelling, and combinations that are refused at startup. */
class SecurityFlagsTest {

  @Test
  void theDefaultsAreTheSafeOnesAndOnlyTheDemoTrustsLoopbackAndAnonymousClients() {
    Settings defaults = Settings.defaults();

    assertThat(defaults.get(Settings.NODE_AUTH)).isEqualTo(NodeAuthMode.PEER);
    assertThat(defaults.get(Settings.TRUST_LOOPBACK_CLIENTS)).isFalse();
    assertThat(defaults.get(Settings.XDS_ALLOW_ANONYMOUS_CLIENTS)).isFalse();
    assertThat(defaults.get(Settings.ENVOY_NAMESPACE)).isEqualTo("nodemesh-system");
    assertThat(defaults.xdsTls()).isFalse();
    assertThat(Settings.parse(new String[] {"--node-auth=peer-or-token"}, Map.of())
        .get(Settings.NODE_AUTH)).isEqualTo(NodeAuthMode.PEER_OR_TOKEN);

    Settings other = Settings.parse(new String[] {"--xds-port=16010"}, Map.of(),
        Map.of(Settings.TRUST_LOOPBACK_CLIENTS, "true", Settings.XDS_PORT, "17010"), "default of the test");
    assertThat(other.get(Settings.TRUST_LOOPBACK_CLIENTS)).isTrue();
    assertThat(other.source(Settings.TRUST_LOOPBACK_CLIENTS)).isEqualTo("default of the test");
    assertThat(other.get(Settings.XDS_PORT)).as("an explicit value wins over another default").isEqualTo(16010);
    assertThat(other.source(Settings.XDS_PORT)).isEqualTo("flag");
  }

  @Test
  void helpSaysWhereTheNodeAgentAndTheDemoAre() {
    assertThat(Settings.help()).contains("nodemesh-node-agent.jar").contains("nodemesh-demo.jar");
  }

  @Test
  void anInvalidValueIsReportedAgainstWhatSetIt() {
    assertThatThrownBy(() -> Settings.parse(new String[0], Map.of("NODEMESH_XDS_PORT", "abc")))
        .isInstanceOf(Flag.UsageException.class)
        .hasMessageStartingWith("invalid value 'abc' for NODEMESH_XDS_PORT (--xds-port): expected");
    assertThatThrownBy(() -> Settings.parse(new String[] {"--xds-port=abc"}, Map.of()))
        .hasMessageStartingWith("invalid value 'abc' for --xds-port: expected");
  }

  @Test
  void limitFlagsBecomeTheXdsServerOptions() {
    XdsServerOptions options = Settings.parse(new String[] {
        "--xds-max-streams-per-address=8", "--trust-loopback-clients=false", "--xds-max-subscribed-names=500",
        "--xds-max-request-rate=7", "--xds-request-burst=70", "--xds-nack-isolation-max-probes=3"}, Map.of())
        .xdsServerOptions(ClientAuthorizer.ALLOW_ALL);

    assertThat(options.maxStreamsPerAddress()).isEqualTo(8);
    assertThat(options.loopbackExempt()).isFalse();
    assertThat(options.maxSubscribedNames()).isEqualTo(500);
    assertThat(options.requestsPerSecond()).isEqualTo(7);
    assertThat(options.requestBurst()).isEqualTo(70);
    assertThat(options.isolationMaxProbes()).isEqualTo(3);
  }

  @Test
  void theXdsServerKnowsNodePrivateNamesByTheTranslatorsScheme() {
    XdsServerOptions options = Settings.defaults().xdsServerOptions(ClientAuthorizer.ALLOW_ALL);
    ObjectKey pod = new ObjectKey("default", "p");
    assertThat(options.nodePrivateName().test(ResourceNames.outboundListener(pod))).isTrue();
    assertThat(options.nodePrivateName().test(ResourceNames.servicePort(new ObjectKey("default", "s"), 80))).isFalse();
    assertThat(XdsServerOptions.DEFAULTS.nodePrivateName().test(ResourceNames.outboundListener(pod)))
        .as("the library default guesses no naming scheme").isFalse();
  }

  @Test
  void serverWideLimitsBecomeTheXdsServerOptions() {
    XdsServerOptions defaults = Settings.defaults().xdsServerOptions(ClientAuthorizer.ALLOW_ALL);
    assertThat(defaults.maxStreams()).isEqualTo(20_000);
    assertThat(defaults.firstRequestTimeoutMillis()).isEqualTo(10_000);
    assertThat(defaults.maxNameBytesPerAddress()).isEqualTo(16 * 1024 * 1024);
    assertThat(defaults.quarantineMaxTotal()).isEqualTo(10_000);
    assertThat(defaults.quarantineForgetMillis()).isEqualTo(600_000);

    XdsServerOptions options = Settings.parse(new String[] {"--xds-max-streams=9", "--xds-first-request-timeout=2s",
        "--xds-max-name-bytes-per-address=4096", "--xds-quarantine-max-entries=5", "--xds-quarantine-forget-after=1m"},
        Map.of()).xdsServerOptions(ClientAuthorizer.ALLOW_ALL);
    assertThat(options.maxStreams()).isEqualTo(9);
    assertThat(options.firstRequestTimeoutMillis()).isEqualTo(2000);
    assertThat(options.maxNameBytesPerAddress()).isEqualTo(4096);
    assertThat(options.quarantineMaxTotal()).isEqualTo(5);
    assertThat(options.quarantineForgetMillis()).isEqualTo(60_000);
  }

  @Test
  void tlsNeedsBothTheCertificateAndTheKeyAndAClientCaNeedsTls() {
    assertThatThrownBy(() -> Settings.parse(new String[] {"--xds-tls-cert-file=/tls/tls.crt"}, Map.of()))
        .hasMessage("--xds-tls-cert-file and --xds-tls-key-file go together: set both or neither");
    assertThatThrownBy(() -> Settings.parse(new String[] {"--xds-tls-client-ca-file=/tls/ca.crt"}, Map.of()))
        .hasMessageContaining("--xds-tls-client-ca-file needs TLS");
    Settings tls = Settings.parse(new String[] {"--xds-tls-cert-file=/tls/tls.crt", "--xds-tls-key-file=/tls/tls.key",
        "--xds-tls-reload-interval=5s"}, Map.of());
    assertThat(tls.xdsTls()).isTrue();
    assertThat(tls.get(Settings.XDS_TLS_RELOAD_INTERVAL)).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void theProxylessPlacementWaitEndsBeforeTheFirstRequestDeadline() {
    assertThat(Settings.parse(new String[0], Map.of()).placementWait()).isEqualTo(Duration.ofSeconds(2));
    assertThatThrownBy(() -> Settings.parse(new String[] {"--proxyless-placement-wait=10s"}, Map.of()))
        .isInstanceOf(Flag.UsageException.class)
        .hasMessage("--proxyless-placement-wait=10000ms must be shorter than --xds-first-request-timeout=10000ms,"
            + " which would close the waiting stream");
    assertThat(Settings.parse(new String[] {"--proxyless-placement-wait=30s", "--xds-first-request-timeout=0s"},
        Map.of()).placementWait()).isEqualTo(Duration.ofSeconds(30));
    assertThat(Settings.parse(new String[] {"--xds-first-request-timeout=2s"}, Map.of()).placementWait())
        .as("the default gives way to a shorter deadline").isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void anUnknownAuthModeIsRefusedWithTheAcceptedSpellings() {
    assertThatThrownBy(() -> Settings.parse(new String[] {"--node-auth=maybe"}, Map.of()))
        .hasMessageContaining("--node-auth").hasMessageContaining("none, peer, token, peer-or-token");
  }

  @Test
  void theDebugPortListensOnLoopbackWithoutAuthenticationByDefault() {
    Settings defaults = Settings.defaults();

    assertThat(defaults.get(Settings.ADMIN_PORT)).isEqualTo(15014);
    assertThat(defaults.get(Settings.DEBUG_PORT)).isEqualTo(15015);
    assertThat(defaults.get(Settings.DEBUG_ADDRESS)).isEqualTo("127.0.0.1");
    assertThat(defaults.get(Settings.DEBUG_AUTH)).isEqualTo(DebugAuthMode.NONE);
    assertThat(defaults.adminListeners().limits())
        .isEqualTo(new AdminServer.Limits(Duration.ofSeconds(10), 256, 32));
  }

  @Test
  void aDebugPortOffLoopbackWithoutAuthenticationStopsTheStartNamingTheFlags() {
    assertThatThrownBy(() -> Settings.parse(new String[] {"--debug-address=0.0.0.0"}, Map.of()))
        .isInstanceOf(Flag.UsageException.class)
        .hasMessageContaining("--debug-address=0.0.0.0 is not a loopback address")
        .hasMessageContaining("--debug-auth=token-review").hasMessageContaining("--debug-token-file");
    assertThatThrownBy(() -> Settings.parse(new String[] {"--debug-auth=token-file"}, Map.of()))
        .hasMessageContaining("--debug-token-file");
    assertThat(Settings.parse(new String[] {"--debug-address=0.0.0.0", "--debug-auth=token-review"}, Map.of())
        .get(Settings.DEBUG_AUTH)).isEqualTo(DebugAuthMode.TOKEN_REVIEW);
  }

  @Test
  void helpListsTheAdminAndDebugFlags() {
    assertThat(Settings.help()).contains("--debug-port", "--debug-address", "--debug-auth", "--debug-token-file",
        "--admin-read-timeout", "--admin-max-connections", "--admin-max-connections-per-address",
        "NODEMESH_DEBUG_AUTH");
  }
}
