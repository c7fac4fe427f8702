package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** NOTES.txt, shown after {@code helm install}, tells how to check the installation through the admin endpoint. */
class NotesTest {

  @Test
  void notesShowHowToReachTheAdminEndpointAndCheckSyncStatus() {
    String output = HelmChart.template().installDryRunOutput();

    assertThat(output)
        .contains("kubectl -n nodemesh-system port-forward deployment/nodemesh-control-plane 15014:15014")
        .contains("curl -s localhost:15014/debug/syncz")
        .contains("kubectl -n nodemesh-system rollout status daemonset/nodemesh-envoy")
        .contains("kubectl label namespace <namespace> nodemesh.io/mesh=enabled");
  }
}
