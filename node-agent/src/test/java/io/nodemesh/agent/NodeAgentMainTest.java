package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code node-agent} command line: modes, usage errors, and the init container's one-shot install. */
class NodeAgentMainTest {

  @TempDir
  Path root;

  @Test
  void helpListsTheFlagsAndExitsZero() throws Exception {
    String out = captureStdout(() -> assertThat(NodeAgentMain.run(new String[] {"--help"})).isZero());

    assertThat(out).contains("nodemesh-node-agent.jar [install-cni | uninstall]").contains("--cni-fail-policy");
  }

  @Test
  void usageErrorsExitTwo() throws Exception {
    assertThat(NodeAgentMain.run(new String[] {"launch"})).isEqualTo(2);
    assertThat(NodeAgentMain.run(new String[] {"--cni-timeout=forever"})).isEqualTo(2);
    assertThat(NodeAgentMain.run(new String[] {"--node-name="})).as("the agent needs its node").isEqualTo(2);
    assertThat(NodeAgentMain.run(new String[] {"--node-name=n", "--debug-address=0.0.0.0"}))
        .as("an unauthenticated debug port on the node's network").isEqualTo(2);
  }

  @Test
  void installCniGivesUpAfterTheWaitWithoutAConfigurationAndSucceedsWithOne() throws Exception {
    Path conf = root.resolve("net.d");
    String[] args = {"install-cni", "--cni-bin-dir=" + root.resolve("bin"), "--cni-conf-dir=" + conf,
        "--cni-conf-wait=1s"};

    assertThat(NodeAgentMain.run(args)).isEqualTo(1);

    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-main.conflist"), "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"plugins\":[{\"type\":\"ptp\"}]}");
    assertThat(NodeAgentMain.run(args)).isZero();
    assertThat(Files.readString(conf.resolve("10-main.conflist"))).contains("nodemesh-cni");
    assertThat(root.resolve("bin/nodemesh-cni")).isExecutable();
  }

  private static String captureStdout(ThrowingRunnable body) throws Exception {
    PrintStream original = System.out;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setOut(original);
    }
    return buffer.toString(StandardCharsets.UTF_8);
  }

  @FunctionalInterface
  private interface ThrowingRunnable {
    void run() throws Exception;
  }
}
