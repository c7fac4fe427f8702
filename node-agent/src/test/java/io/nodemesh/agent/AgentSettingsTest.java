package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.common.SharedFlags;
import io.nodemesh.flags.Flag;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AgentSettingsTest {

  @Test
  void theMeshDecidingFlagsAreTheDeclarationsTheControlPlaneUses() {
    assertThat(AgentSettings.ALL).contains(SharedFlags.MESH_ALL_NAMESPACES, SharedFlags.NETNS_MODE, SharedFlags.NETNS_TEMPLATE,
        SharedFlags.NETNS_ALLOWED_PREFIX, SharedFlags.SO_MARK, SharedFlags.CAPTURE_PORT);
  }

  @Test
  void everyFlagIsDeclaredOnce() {
    Set<String> names = new HashSet<>();
    for (Flag<?> flag : AgentSettings.ALL) {
      assertThat(names.add(flag.name())).as("--%s declared twice", flag.name()).isTrue();
      assertThat(flag.description()).isNotBlank();
    }
  }

  @Test
  void flagsWinOverEnvironmentWhichWinsOverDefaults() {
    AgentSettings settings = AgentSettings.parse(new String[] {"--capture-port=15101"},
        Map.of("NODEMESH_CAPTURE_PORT", "15201", "NODEMESH_NODE_NAME", "node-7"));

    assertThat(settings.get(SharedFlags.CAPTURE_PORT)).isEqualTo(15101);
    assertThat(settings.get(AgentSettings.NODE_NAME)).isEqualTo("node-7");
    assertThat(settings.source(AgentSettings.NODE_NAME)).isEqualTo("env NODEMESH_NODE_NAME");
    assertThat(settings.get(AgentSettings.CNI_FAIL_POLICY)).isEqualTo(FailPolicy.CLOSED);
    assertThat(settings.pinDir()).isEqualTo(Path.of("/var/run/nodemesh/netns"));
  }

  @Test
  void theTemplateMustBeADirectoryPlusThePodUid() {
    assertThatThrownBy(() -> AgentSettings.of(Map.of("netns-template", "/run/pins/pod-{podUid}")))
        .isInstanceOf(Flag.UsageException.class).hasMessageContaining("<absolute directory>/{podUid}");
    assertThat(AgentSettings.of(Map.of("netns-template", "/run/pins/{podUid}")).pinDir()).isEqualTo(Path.of("/run/pins"));
  }

  @Test
  void invalidValuesFailAtStartupNamingTheFlag() {
    assertThatThrownBy(() -> AgentSettings.of(Map.of("cni-fail-policy", "maybe")))
        .hasMessageContaining("--cni-fail-policy").hasMessageContaining("closed, open");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("cni-timeout", "1500ms"))).hasMessageContaining("whole seconds");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("cni-spool-dir", "relative/dir"))).hasMessageContaining("absolute");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("so-mark", "0"))).hasMessageContaining("--so-mark");
    assertThatThrownBy(() -> AgentSettings.parse(new String[] {"--xds-port=1"}, Map.of()))
        .hasMessageContaining("unknown flag --xds-port");
  }

  @Test
  void theListenerWaitFlagsAreCheckedTogether() {
    assertThat(AgentSettings.of(Map.of()).controlPlaneAddress()).isEmpty();
    assertThat(AgentSettings.of(Map.of("control-plane-address", "cp-replicas.ns.svc:15010")).controlPlaneAddress())
        .hasValueSatisfying(address -> assertThat(address.getPort()).isEqualTo(15010));
    assertThatThrownBy(() -> AgentSettings.of(Map.of("control-plane-address", "cp-replicas")))
        .hasMessageContaining("--control-plane-address must be host:port");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("listener-wait", "30s")))
        .hasMessageContaining("--listener-wait must be at least 1s below --cni-timeout");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("control-plane-cert-file", "/tls/tls.crt")))
        .hasMessageContaining("go together");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("control-plane-source-address", "node-1")))
        .hasMessageContaining("must be an IP address");
  }

  @Test
  void helpListsEveryFlagWithItsEnvironmentVariable() {
    String help = AgentSettings.help();

    for (Flag<?> flag : AgentSettings.ALL) {
      assertThat(help).contains("--" + flag.name()).contains(flag.env());
    }
  }

  @Test
  void theAgentsDebugPortBindsTheNodesLoopbackAndOffLoopbackNeedsAuthentication() {
    AgentSettings defaults = AgentSettings.of(Map.of());

    assertThat(defaults.get(AgentSettings.ADMIN_ADDRESS)).isEqualTo("0.0.0.0");
    assertThat(defaults.adminListeners().debugAddress()).isEqualTo("127.0.0.1");
    assertThat(defaults.adminListeners().debugPort()).isEqualTo(15017);
    assertThat(AgentSettings.ALL).contains(SharedFlags.DEBUG_ADDRESS, SharedFlags.DEBUG_AUTH, SharedFlags.DEBUG_TOKEN_FILE,
        SharedFlags.ADMIN_READ_TIMEOUT, SharedFlags.ADMIN_MAX_CONNECTIONS, SharedFlags.ADMIN_MAX_CONNECTIONS_PER_ADDRESS);
    assertThatThrownBy(() -> AgentSettings.of(Map.of("debug-address", "10.0.0.7")))
        .isInstanceOf(Flag.UsageException.class).hasMessageContaining("--debug-auth");
    assertThatThrownBy(() -> AgentSettings.of(Map.of("debug-port", "15016")))
        .hasMessageContaining("--admin-port and --debug-port must differ");
  }
}
