package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** An uninstall is told from a restart by the agent's own DaemonSet. */
@EnableKubernetesMockClient(crud = true)
class SelfDaemonSetTest {

  KubernetesClient client;

  @Test
  void aRestartKeepsThePluginAndADeletedDaemonSetMeansUninstall() {
    client.apps().daemonSets().inNamespace("nodemesh-system").resource(new DaemonSetBuilder()
        .withNewMetadata().withName("nodemesh-node-agent").withNamespace("nodemesh-system").endMetadata()
        .withNewSpec().withNewSelector().addToMatchLabels("app", "agent").endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", "agent").endMetadata().endTemplate().endSpec()
        .build()).create();

    try (SelfDaemonSet self = new SelfDaemonSet(client, "nodemesh-system", "nodemesh-node-agent")) {
      assertThat(self.goingAway()).as("DaemonSet in place: a restart or an update").isFalse();

      client.apps().daemonSets().inNamespace("nodemesh-system").withName("nodemesh-node-agent").delete();

      await().atMost(Duration.ofSeconds(10)).until(self::goingAway);
    }
  }

  @Test
  void aDaemonSetThatDoesNotExistMeansUninstall() {
    try (SelfDaemonSet self = new SelfDaemonSet(client, "nodemesh-system", "gone")) {
      assertThat(self.goingAway()).isTrue();
    }
  }
}
