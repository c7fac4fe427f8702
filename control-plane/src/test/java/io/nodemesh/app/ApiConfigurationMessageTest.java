package io.nodemesh.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 18: the start-up line says which Kubernetes API configuration was chosen, and why. */
class ApiConfigurationMessageTest {

  @TempDir
  Path home;

  private final Config config = new ConfigBuilder(Config.empty()).withMasterUrl("https://10.0.0.1:6443/").build();

  @Test
  void withoutAnyKubeconfigOutsideAPodItSaysItFellBackToTheInClusterAddressAndWhatToDo() {
    assumeFalse(Files.exists(Path.of(Config.KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH)), "runs inside a pod");
    assertThat(ApiConfigurationMessage.describe(config, Map.of(), home.resolve(".kube/config")))
        .startsWith("https://10.0.0.1:6443/ (no kubeconfig found")
        .contains("KUBECONFIG is unset", home.resolve(".kube/config").toString(), "fell back to the in-cluster",
            "nodemesh-demo.jar");
  }

  @Test
  void namesTheKubeconfigAndWhereItCameFrom() throws Exception {
    Path kubeconfig = Files.createDirectories(home.resolve(".kube")).resolve("config");
    Files.writeString(kubeconfig, "apiVersion: v1\n");
    assertThat(ApiConfigurationMessage.describe(config, Map.of(), kubeconfig))
        .isEqualTo("https://10.0.0.1:6443/ (kubeconfig " + kubeconfig + ")");
    assertThat(ApiConfigurationMessage.describe(config, Map.of("KUBECONFIG", "/etc/k.yaml"), kubeconfig))
        .isEqualTo("https://10.0.0.1:6443/ (kubeconfig /etc/k.yaml from KUBECONFIG)");
    assertThat(ApiConfigurationMessage.describe(config, Map.of("KUBERNETES_MASTER", "https://x"), kubeconfig))
        .isEqualTo("https://10.0.0.1:6443/ (from KUBERNETES_MASTER)");
  }
}
