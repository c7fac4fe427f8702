package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CniInstallerTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CALICO = """
      {
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [
          {"type": "calico", "ipam": {"type": "calico-ipam"}, "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
          {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
        ]
      }
      """;

  @TempDir
  Path root;
  private Path bin;
  private Path conf;
  private CniInstaller installer;

  @BeforeEach
  void setUp() {
    bin = root.resolve("bin");
    conf = root.resolve("net.d");
    installer = CniInstaller.of(AgentSettings.of(Map.of(
        "cni-bin-dir", bin.toString(), "cni-conf-dir", conf.toString(), "cni-fail-policy", "open",
        "cni-timeout", "20s", "cni-exclude-namespaces", "kube-system,nodemesh-system")));
  }

  @Test
  void chainsItselfLastIntoTheFirstConflistAndKeepsEverythingElse() throws IOException {
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO);
    Files.writeString(conf.resolve("99-loopback.conf"), "{\"cniVersion\":\"0.3.1\",\"name\":\"lo\",\"type\":\"loopback\"}");

    assertThat(installer.install()).isEqualTo(CniInstaller.Outcome.INSTALLED);

    JsonNode config = JSON.readTree(conf.resolve("10-calico.conflist").toFile());
    assertThat(config.get("plugins")).hasSize(3);
    assertThat(config.get("plugins").get(0)).isEqualTo(JSON.readTree(CALICO).get("plugins").get(0));
    assertThat(config.get("plugins").get(2).get("type").asText()).isEqualTo("nodemesh-cni");
    assertThat(config.get("plugins").get(2).get("failPolicy").asText()).isEqualTo("open");
    assertThat(config.get("plugins").get(2).get("timeoutSeconds").asInt()).isEqualTo(20);
    assertThat(config.get("plugins").get(2).get("pinDir").asText()).isEqualTo("/var/run/nodemesh/netns");
    assertThat(config.get("plugins").get(2).get("excludeNamespaces").asText()).isEqualTo("kube-system,nodemesh-system");
    assertThat(Files.readString(conf.resolve("99-loopback.conf"))).doesNotContain("nodemesh");
    assertThat(Files.readAllBytes(installer.pluginPath())).isEqualTo(CniInstaller.pluginScript());
    assertThat(Files.getPosixFilePermissions(installer.pluginPath())).contains(PosixFilePermission.OWNER_EXECUTE,
        PosixFilePermission.OTHERS_EXECUTE);
    assertThat(installer.installed()).isTrue();
    try (var files = Files.list(conf)) {
      assertThat(files.map(file -> file.getFileName().toString())).as("no temporary files left")
          .containsExactlyInAnyOrder("10-calico.conflist", "99-loopback.conf");
    }
  }

  @Test
  void installingAgainChangesNothing() throws IOException {
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO);
    installer.install();
    String first = Files.readString(conf.resolve("10-calico.conflist"));

    assertThat(installer.install()).isEqualTo(CniInstaller.Outcome.UNCHANGED);
    assertThat(Files.readString(conf.resolve("10-calico.conflist"))).isEqualTo(first);
  }

  @Test
  void comesBackAfterTheMainCniRewritesItsConfiguration() throws IOException {
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO);
    installer.install();
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO);

    assertThat(installer.installed()).isFalse();
    assertThat(installer.install()).isEqualTo(CniInstaller.Outcome.INSTALLED);
    assertThat(installer.installed()).isTrue();
  }

  @Test
  void aSinglePluginConfIsTurnedIntoAConflist() throws IOException {
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-flannel.conf"),
        "{\"cniVersion\":\"1.0.0\",\"name\":\"cbr0\",\"type\":\"flannel\",\"delegate\":{\"isDefaultGateway\":true}}");

    installer.install();

    assertThat(conf.resolve("10-flannel.conf")).doesNotExist();
    JsonNode config = JSON.readTree(conf.resolve("10-flannel.conflist").toFile());
    assertThat(config.get("name").asText()).isEqualTo("cbr0");
    assertThat(config.get("cniVersion").asText()).isEqualTo("1.0.0");
    assertThat(config.get("plugins").get(0).get("type").asText()).isEqualTo("flannel");
    assertThat(config.get("plugins").get(1).get("type").asText()).isEqualTo("nodemesh-cni");
  }

  @Test
  void withoutAConfigurationItInstallsTheExecutableAndWaits() throws IOException {
    assertThat(installer.install()).isEqualTo(CniInstaller.Outcome.NO_CONFIG_YET);
    assertThat(installer.pluginPath()).exists();
    assertThat(installer.installed()).isFalse();
  }

  @Test
  void uninstallRemovesTheEntryEverywhereThenTheExecutable() throws IOException {
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO);
    installer.install();

    installer.uninstall();

    assertThat(JSON.readTree(conf.resolve("10-calico.conflist").toFile())).isEqualTo(JSON.readTree(CALICO));
    assertThat(installer.pluginPath()).doesNotExist();
  }
}
