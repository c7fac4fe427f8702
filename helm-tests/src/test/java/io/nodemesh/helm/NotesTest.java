package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** NOTES.txt, shown after {@code helm install}, tells how to check the installation through the debug port. */
class NotesTest {

  @Test
  void notesShowHowToReachTheDebugPortAndCheckSyncStatus() {
    String output = HelmChart.template().installDryRunOutput();

    assertThat(output)
        .contains("kubectl -n nodemesh-system port-forward deployment/nodemesh-control-plane 15015:15015")
        .contains("curl -s localhost:15015/debug/syncz")
        .contains("kubectl -n nodemesh-system rollout status daemonset/nodemesh-envoy")
        .contains("kubectl label namespace <namespace> nodemesh.io/mesh=enabled");
  }

  @Test
  void withATokenTheNotesSendIt() {
    String output = HelmChart.template().set("controlPlane.debug.auth", "token-review").installDryRunOutput();

    assertThat(output)
        .contains("kubectl create token <service account bound to ClusterRole nodemesh-control-plane-debug-reader>")
        .contains("curl -s -H \"Authorization: Bearer $TOKEN\" localhost:15015/debug/syncz");
  }
}
