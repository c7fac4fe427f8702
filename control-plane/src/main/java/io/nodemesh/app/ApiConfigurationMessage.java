package io.nodemesh.app;

import io.fabric8.kubernetes.client.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** The start-up line that names the Kubernetes API the control plane watches and where that choice came from. */
final class ApiConfigurationMessage {

  private ApiConfigurationMessage() {}

  /**
   * Which Kubernetes API the process talks to and why, in one line: without a kubeconfig and outside a pod, fabric8
   * silently falls back to https://kubernetes.default.svc, and the operator should hear that before the watch
   * errors start.
   */
  static String describe(Config config, Map<String, String> env,
      Path defaultKubeconfig) {
    String server = config.getMasterUrl();
    String context = config.getCurrentContext() == null ? "" : ", context " + config.getCurrentContext().getName();
    if (env.containsKey("KUBERNETES_MASTER")) {
      return server + " (from KUBERNETES_MASTER)";
    }
    String kubeconfig = env.get("KUBECONFIG");
    if (kubeconfig != null && !kubeconfig.isBlank()) {
      return server + " (kubeconfig " + kubeconfig + " from KUBECONFIG" + context + ")";
    }
    if (Files.isRegularFile(defaultKubeconfig)) {
      return server + " (kubeconfig " + defaultKubeconfig + context + ")";
    }
    if (Files.isRegularFile(Path.of(Config.KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH))) {
      return server + " (in-cluster: this pod's service account)";
    }
    return server + " (no kubeconfig found: KUBECONFIG is unset and " + defaultKubeconfig
        + " does not exist, and this is not a pod; fell back to the in-cluster address. Set KUBECONFIG, or run"
        + " the demo (java -jar demo/target/nodemesh-demo.jar) to try nodemesh without a cluster)";
  }
}
