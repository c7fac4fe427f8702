package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The plugin's input handling, run with {@code sh} (dash on Debian) and {@code bash}, with nothing but the CNI
 * environment variables: no root, no agent, no namespaces. Every rejection is a CNI error result with a code and
 * a message, and leaves no file behind.
 */
class CniPluginInputTest {

  @TempDir
  Path root;
  private Path pins;
  private Path spool;
  private ObjectNode netconf;

  @BeforeEach
  void setUp() {
    pins = root.resolve("pins");
    spool = root.resolve("spool");
    netconf = CniPluginProcess.netconf(pins, spool, "10.244.0.5");
  }

  static List<String> shells() {
    return Stream.of("sh", "bash").filter(shell -> Files.isExecutable(Path.of("/bin", shell))).toList();
  }

  private CniPluginProcess add() {
    return CniPluginProcess.command("ADD").config(netconf).env("CNI_NETNS", "/proc/self/ns/net");
  }

  @ParameterizedTest
  @ValueSource(strings = {"sh", "bash"})
  void versionListsTheSupportedSpecVersions(String shell) {
    CniPluginProcess.Result result = CniPluginProcess.command("VERSION").shell(shell)
        .runWithStdin("{\"cniVersion\":\"1.0.0\"}");

    assertThat(result.exitCode()).isZero();
    assertThat(result.json().get("supportedVersions")).extracting(JsonNode::asText)
        .contains("0.3.1", "0.4.0", "1.0.0", "1.1.0");
  }

  static Stream<Arguments> badEnvironments() {
    String uid = CniPluginProcess.POD_UID;
    return Stream.of(
        Arguments.of("CNI_NETNS", null, "CNI_NETNS is not set"),
        Arguments.of("CNI_NETNS", "", "CNI_NETNS is not set"),
        Arguments.of("CNI_NETNS", "var/run/netns/x", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/../../etc/shadow", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/./x", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run//netns/x", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/x y", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/$(reboot)", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/x\n/etc", "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/" + "a".repeat(300), "not a plain absolute path"),
        Arguments.of("CNI_NETNS", "/var/run/netns/does-not-exist", "CNI_NETNS does not exist"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1", "K8S_POD_UID"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=../../etc", "K8S_POD_UID"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=" + uid.toUpperCase(),
            "K8S_POD_UID"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=" + uid + "x", "K8S_POD_UID"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=" + uid.replace('-', '/'),
            "K8S_POD_UID"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=Shop!;K8S_POD_NAME=web-1;K8S_POD_UID=" + uid, "K8S_POD_NAMESPACE"),
        Arguments.of("CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=../web;K8S_POD_UID=" + uid, "K8S_POD_NAME"),
        Arguments.of("CNI_CONTAINERID", null, "CNI_CONTAINERID"),
        Arguments.of("CNI_CONTAINERID", "../../x", "CNI_CONTAINERID"),
        Arguments.of("CNI_IFNAME", "eth0;reboot", "CNI_IFNAME"),
        Arguments.of("CNI_COMMAND", "DESTROY", "unknown CNI_COMMAND"),
        Arguments.of("CNI_COMMAND", null, "CNI_COMMAND is not set"));
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("badEnvironments")
  void badEnvironmentIsAClearCniErrorAndLeavesNothingBehind(String variable, String value, String message) {
    for (String shell : shells()) {
      CniPluginProcess.Result result = add().shell(shell).env(variable, value).run();

      assertThat(result.exitCode()).as("%s: %s", shell, result).isNotZero();
      JsonNode error = result.json();
      assertThat(error.get("code").asInt()).as(result.toString()).isEqualTo(4);
      assertThat(error.get("msg").asText()).as(result.toString()).contains(message);
      assertThat(error.get("cniVersion").asText()).isEqualTo("1.0.0");
      assertNothingWritten();
    }
  }

  @Test
  void checkAlsoRequiresANamespace() {
    CniPluginProcess.Result result = CniPluginProcess.command("CHECK").config(netconf).run();

    assertThat(result.json().get("msg").asText()).contains("CNI_NETNS is not set");
  }

  static Stream<Arguments> badConfigurations() {
    return Stream.of(
        Arguments.of("pinDir", "relative/pins", "pinDir is invalid"),
        Arguments.of("pinDir", "/var/run/../../etc", "pinDir is not a plain absolute path"),
        Arguments.of("spoolDir", "/tmp/x y", "spoolDir is invalid"),
        Arguments.of("timeoutSeconds", 0, "timeoutSeconds must be 1-600"),
        Arguments.of("timeoutSeconds", 100000, "timeoutSeconds is invalid"),
        Arguments.of("timeoutSeconds", "ten", "timeoutSeconds is invalid"),
        Arguments.of("failPolicy", "sometimes", "failPolicy is invalid"),
        Arguments.of("excludeNamespaces", "kube-system;reboot", "excludeNamespaces is invalid"),
        Arguments.of("cniVersion", "1.0.0\"}", "cniVersion is not a version number"));
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("badConfigurations")
  void badConfigurationIsInvalidNetworkConfig(String field, Object value, String message) {
    CniPluginProcess.Result result = add().set(field, value).run();

    assertThat(result.exitCode()).isNotZero();
    assertThat(result.json().get("code").asInt()).as(result.toString()).isEqualTo(7);
    assertThat(result.json().get("msg").asText()).contains(message);
    assertNothingWritten();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "not json", "{\"cniVersion\":\"1.0.0\",", "{\"cniVersion\":\"1.0.0\"} trailing",
      "{\"cniVersion\":\"1.0.0\",\"prevResult\":{\"a\":\"}\"}", "[1,2]"})
  void malformedJsonIsADecodingFailure(String stdin) {
    CniPluginProcess.Result result = add().runWithStdin(stdin);

    assertThat(result.exitCode()).isNotZero();
    assertThat(result.json().get("code").asInt()).as(result.toString()).isEqualTo(6);
    assertNothingWritten();
  }

  @Test
  void addWithoutPrevResultSaysThePluginMustBeChained() {
    netconf.remove("prevResult");

    CniPluginProcess.Result result = add().run();

    assertThat(result.json().get("code").asInt()).isEqualTo(7);
    assertThat(result.json().get("msg").asText()).contains("chained plugin");
  }

  @Test
  void anExcludedNamespacePassesPrevResultThroughUntouched() throws IOException {
    for (String shell : shells()) {
      CniPluginProcess.Result result = add().shell(shell).pod("kube-system", "coredns-1", CniPluginProcess.POD_UID).run();

      assertThat(result.exitCode()).as(result.toString()).isZero();
      assertThat(result.json()).isEqualTo(netconf.get("prevResult"));
      assertNothingWritten();
    }
  }

  @Test
  void aNonKubernetesSandboxPassesThrough() {
    CniPluginProcess.Result result = add().env("CNI_ARGS", "IgnoreUnknown=1").run();

    assertThat(result.exitCode()).isZero();
    assertThat(result.json()).isEqualTo(netconf.get("prevResult"));
  }

  @Test
  void prevResultIsPassedThroughByteForByteEvenWithBracesInStrings() {
    String stdin = "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"type\":\"nodemesh-cni\",\"prevResult\": "
        + "{\"ips\":[{\"address\":\"10.1.1.1/24\"}],\"dns\":{\"search\":[\"}{\",\"\\\"}\"]}} ,"
        + "\"excludeNamespaces\":\"shop\"}";

    CniPluginProcess.Result result = add().runWithStdin(stdin);

    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(result.stdout().strip())
        .isEqualTo("{\"ips\":[{\"address\":\"10.1.1.1/24\"}],\"dns\":{\"search\":[\"}{\",\"\\\"}\"]}}");
  }

  /**
   * CNI_ARGS is split on ';' by the shell, so a '*', '?' or '[' in it must not be expanded against the runtime's
   * working directory: a file named {@code K8S_POD_NAMESPACE=shop} there would otherwise replace the pod's real
   * namespace. The pod really is in kube-system (excluded), so the only correct outcome is a pass-through.
   */
  @ParameterizedTest
  @ValueSource(strings = {"*", "*=shop", "?8S_POD_NAMESPACE=shop", "[K]8S_POD_NAMESPACE=shop", "K8S_POD_NAMESPACE=*"})
  void globCharactersInCniArgsNeverExpandToFileNames(String pattern) throws IOException {
    Path workingDirectory = Files.createDirectory(root.resolve("runtime-cwd"));
    Files.createFile(workingDirectory.resolve("K8S_POD_NAMESPACE=shop"));
    Files.createFile(workingDirectory.resolve("K8S_POD_NAME=web-1"));
    netconf.put("timeoutSeconds", 1);
    String podArgs = "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;K8S_POD_UID=" + CniPluginProcess.POD_UID;
    for (String shell : shells()) {
      CniPluginProcess.Result result =
          add().shell(shell).workingDirectory(workingDirectory).env("CNI_ARGS", podArgs + ";" + pattern).run();

      if (pattern.startsWith("K8S_POD_NAMESPACE=")) {
        // taken literally, "*" is not a namespace name: rejected, and no file name stood in for it
        assertThat(result.exitCode()).as("%s: %s", shell, result).isNotZero();
        assertThat(result.json().get("msg").asText()).as(result.toString()).contains("K8S_POD_NAMESPACE");
      } else {
        assertThat(result.exitCode()).as("%s: %s", shell, result).isZero();
        assertThat(result.json()).as(result.toString()).isEqualTo(netconf.get("prevResult"));
      }
      assertNothingWritten();
    }
  }

  /** The PID in a lock file goes to {@code kill -0}: "-1" or "0" there would make every lock look held forever. */
  @ParameterizedTest
  @ValueSource(strings = {"-1", "0", "1 2", "$(reboot)"})
  void aLockWhoseOwnerIsNotAProcessIdIsTakenOver(String owner) throws IOException {
    Path lock = Files.createDirectories(spool.resolve("locks").resolve(CniPluginProcess.POD_UID));
    Files.writeString(lock.resolve("pid"), owner + "\n");
    netconf.put("timeoutSeconds", 1);

    CniPluginProcess.Result result = add().run();

    // past the lock, the run ends at the mount (no root) or at the absent agent (root); never at the lock
    assertThat(result.exitCode()).as(result.toString()).isNotZero();
    assertThat(result.json().get("msg").asText()).as(result.toString())
        .doesNotContain("holds its lock")
        .containsAnyOf("bind-mounting", "did not confirm");
  }

  @Test
  void delOfAPodThatWasNeverPinnedSucceedsWithoutANamespace() {
    CniPluginProcess.Result result = CniPluginProcess.command("DEL").config(netconf).run();

    assertThat(result.exitCode()).as(result.toString()).isZero();
    assertThat(result.stdout()).isEmpty();
  }

  @Test
  void gcAndStatusSucceedWithNothingToDo() {
    assertThat(CniPluginProcess.command("GC").config(netconf).run().exitCode()).isZero();
    assertThat(CniPluginProcess.command("STATUS").config(netconf).run().exitCode()).isZero();
  }

  private void assertNothingWritten() {
    assertThat(pins).as("no pin directory").doesNotExist();
    assertThat(spool).as("no spool directory").doesNotExist();
  }
}
