package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.nodemesh.agent.AgentSettings;
import io.nodemesh.flags.Flag;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The node agent DaemonSet (CNI installer init container + agent), its RBAC, and the values that shape them. */
class NodeAgentManifestsTest {

  private static final String NAME = "nodemesh-node-agent";

  private final Manifests defaults = HelmChart.template().render();

  @Test
  void theAgentIsOnByDefaultBesideTheEnvoys() {
    assertThat(defaults.all(DaemonSet.class)).extracting(ds -> ds.getMetadata().getName())
        .containsExactlyInAnyOrder("nodemesh-envoy", NAME);
    assertThat(defaults.named(ServiceAccount.class, NAME)).isNotNull();
  }

  @Test
  void disablingItRemovesEveryObjectOfIt() {
    Manifests manifests = HelmChart.template().set("nodeAgent.enabled", false).render();

    assertThat(manifests.all()).extracting(HasMetadata::getMetadata).noneMatch(meta -> meta.getName().equals(NAME));
    assertThat(manifests.all(DaemonSet.class)).singleElement()
        .satisfies(ds -> assertThat(ds.getMetadata().getName()).isEqualTo("nodemesh-envoy"));
  }

  @Test
  void theAgentUsesTheHostNetworkButNeitherHostPidNorHostIpc() {
    PodSpec pod = pod(defaults);

    assertThat(pod.getHostNetwork()).isTrue();
    assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(pod.getHostPID()).isNull();
    assertThat(pod.getHostIPC()).isNull();
    assertThat(agent(defaults).getSecurityContext().getPrivileged()).isTrue();
  }

  @Test
  void theInstallerIsRootWithoutAnyCapabilityOrPrivilege() {
    Container installer = installer(defaults);

    assertThat(installer.getArgs()).startsWith("node-agent", "install-cni");
    assertThat(installer.getSecurityContext().getPrivileged()).isFalse();
    assertThat(installer.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(installer.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(installer.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(installer.getSecurityContext().getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(installer.getVolumeMounts()).extracting(VolumeMount::getMountPath)
        .containsExactlyInAnyOrder("/host/opt/cni/bin", "/host/etc/cni/net.d", "/tmp");
  }

  @Test
  void hostPathsAreMountedWhereThePluginAndEnvoyExpectThem() {
    PodSpec pod = pod(defaults);
    Map<String, String> hostPaths = pod.getVolumes().stream().filter(volume -> volume.getHostPath() != null)
        .collect(Collectors.toMap(Volume::getName, volume -> volume.getHostPath().getPath()));

    assertThat(hostPaths).isEqualTo(Map.of(
        "pins", "/var/run/nodemesh/netns",
        "spool", "/var/run/nodemesh/cni",
        "cni-bin", "/opt/cni/bin",
        "cni-conf", "/etc/cni/net.d"));
    assertThat(agent(defaults).getVolumeMounts())
        .extracting(VolumeMount::getName, VolumeMount::getMountPath, VolumeMount::getMountPropagation)
        .containsExactlyInAnyOrder(
            tuple("pins", "/var/run/nodemesh/netns", "Bidirectional"),
            tuple("spool", "/var/run/nodemesh/cni", null),
            tuple("cni-bin", "/host/opt/cni/bin", null),
            tuple("cni-conf", "/host/etc/cni/net.d", null));
    PodSpec envoy = defaults.named(DaemonSet.class, "nodemesh-envoy").getSpec().getTemplate().getSpec();
    assertThat(envoy.getVolumes()).filteredOn(volume -> volume.getHostPath() != null)
        .extracting(volume -> volume.getHostPath().getPath()).contains(hostPaths.get("pins"));
  }

  @Test
  void theAgentDecidesWithTheControlPlanesValues() {
    List<String> args = agent(HelmChart.template().values("node-agent-tuned").render()).getArgs();

    assertThat(args).contains(
        "--mesh-all-namespaces=true",
        "--netns-template=/run/pins/{podUid}",
        "--so-mark=4242",
        "--capture-port=15101");
  }

  @Test
  void everyAgentValueReachesItsFlag() {
    Manifests manifests = HelmChart.template().values("node-agent-tuned").render();
    Container agent = agent(manifests);

    assertThat(agent.getImage()).isEqualTo("registry.example.com/nodemesh/agent:9.9.9");
    assertThat(agent.getImagePullPolicy()).isEqualTo("Always");
    assertThat(agent.getArgs()).contains(
        "--admin-port=16016",
        "--debug-port=16017",
        "--debug-address=127.0.0.1",
        "--cni-bin-dir=/host/var/lib/cni/bin",
        "--cni-conf-dir=/host/var/lib/rancher/k3s/agent/etc/cni/net.d",
        "--cni-spool-dir=/run/nodemesh-spool",
        "--cni-fail-policy=open",
        "--cni-timeout=10s",
        "--cni-exclude-namespaces=kube-system,monitoring,nodemesh-system",
        "--cni-uninstall=never",
        "--resync-interval=30s",
        "--gc-grace=5m",
        "--log-level=debug",
        "--extra=1");
    assertThat(installer(manifests).getArgs()).contains("--cni-fail-policy=open", "--cni-timeout=10s",
        "--netns-template=/run/pins/{podUid}", "--cni-conf-dir=/host/var/lib/rancher/k3s/agent/etc/cni/net.d");
    DaemonSet daemonSet = manifests.named(DaemonSet.class, NAME);
    assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isEqualTo(3);
    assertThat(pod(manifests).getPriorityClassName()).isEqualTo("system-node-critical");
    assertThat(daemonSet.getSpec().getTemplate().getMetadata().getAnnotations()).containsEntry("example.com/a", "1");
    assertThat(manifests.named(ServiceAccount.class, NAME).getMetadata().getAnnotations())
        .containsEntry("example.com/role", "agent");
    assertThat(pod(manifests).getVolumes()).filteredOn(volume -> volume.getName().equals("pins"))
        .singleElement().satisfies(volume -> assertThat(volume.getHostPath().getPath()).isEqualTo("/run/pins"));
  }

  @Test
  void theImageDefaultsToTheControlPlaneImage() {
    assertThat(agent(defaults).getImage()).isEqualTo("ghcr.io/nodemesh/control-plane:0.1.0");
    assertThat(installer(defaults).getImage()).isEqualTo("ghcr.io/nodemesh/control-plane:0.1.0");
  }

  @Test
  void everyAgentArgumentIsAFlagTheAgentDeclares() {
    Set<String> declared = AgentSettings.ALL.stream().map(Flag::name).collect(Collectors.toSet());
    for (Container container : List.of(agent(defaults), installer(defaults))) {
      for (String arg : container.getArgs()) {
        if (arg.startsWith("--")) {
          assertThat(declared).as("%s in %s", arg, container.getName()).contains(arg.substring(2, arg.indexOf('=')));
          AgentSettings.parse(new String[] {arg}, Map.of()); // and its value parses
        }
      }
    }
  }

  @Test
  void nodeNameAndNamespaceComeFromTheDownwardApi() {
    Map<String, String> fieldRefs = agent(defaults).getEnv().stream().filter(env -> env.getValueFrom() != null)
        .collect(Collectors.toMap(env -> env.getName(), env -> env.getValueFrom().getFieldRef().getFieldPath()));

    assertThat(fieldRefs).isEqualTo(Map.of(
        AgentSettings.NODE_NAME.env(), "spec.nodeName",
        AgentSettings.SELF_NAMESPACE.env(), "metadata.namespace",
        AgentSettings.POD_NAME.env(), "metadata.name",
        AgentSettings.CONTROL_PLANE_SOURCE_ADDRESS.env(), "status.hostIP"));
    assertThat(agent(defaults).getArgs()).contains("--self-daemonset=" + NAME);
  }

  @Test
  void probesAskHealthzAndReadyzOnTheAdminPort() {
    Container agent = agent(defaults);

    assertThat(agent.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(agent.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
    assertThat(agent.getPorts()).singleElement().satisfies(port -> {
      assertThat(port.getName()).isEqualTo("http-admin");
      assertThat(port.getContainerPort()).isEqualTo(15016);
    });
    // the host network: the debug port (pins and their namespace paths) stays on the node's loopback
    assertThat(agent.getArgs()).contains("--debug-port=15017", "--debug-address=127.0.0.1");
    assertThat(agent.getArgs()).noneSatisfy(arg -> assertThat(arg).startsWith("--debug-auth"));
    assertThat(defaults.named(DaemonSet.class, NAME).getSpec().getUpdateStrategy().getRollingUpdate().getMaxSurge()
        .getIntVal()).as("host port: no surge").isZero();
  }

  @Test
  void rbacReadsPodsAndNamespacesAndOnlyItsOwnDaemonSet() {
    ClusterRole clusterRole = defaults.named(ClusterRole.class, NAME);
    Role role = defaults.named(Role.class, NAME);

    assertThat(clusterRole.getRules()).singleElement().satisfies(rule -> {
      assertThat(rule.getResources()).containsExactlyInAnyOrder("pods", "namespaces");
      assertThat(rule.getVerbs()).containsExactlyInAnyOrder("get", "list", "watch");
    });
    assertThat(role.getRules()).singleElement().satisfies((PolicyRule rule) -> {
      assertThat(rule.getApiGroups()).containsExactly("apps");
      assertThat(rule.getResources()).containsExactly("daemonsets");
      assertThat(rule.getResourceNames()).containsExactly(NAME);
      assertThat(rule.getVerbs()).doesNotContain("create", "update", "patch", "delete");
    });
    assertThat(defaults.named(ClusterRoleBinding.class, NAME).getSubjects()).singleElement()
        .satisfies(subject -> assertThat(subject.getName()).isEqualTo(NAME));
    assertThat(defaults.named(RoleBinding.class, NAME).getSubjects()).singleElement()
        .satisfies(subject -> assertThat(subject.getName()).isEqualTo(NAME));
    assertThat(pod(defaults).getServiceAccountName()).isEqualTo(NAME);
  }

  static Stream<Arguments> invalidValues() {
    return Stream.of(
        Arguments.of("nodeAgent.cni.failPolicy", "sometimes", "at '/nodeAgent/cni/failPolicy'"),
        Arguments.of("nodeAgent.cni.timeoutSeconds", 0, "at '/nodeAgent/cni/timeoutSeconds': minimum"),
        Arguments.of("nodeAgent.cni.confDir", "etc/cni", "at '/nodeAgent/cni/confDir'"),
        Arguments.of("nodeAgent.cni.spoolDir", "/var/run/../etc", "at '/nodeAgent/cni/spoolDir'"),
        Arguments.of("nodeAgent.cni.uninstall", "maybe", "at '/nodeAgent/cni/uninstall'"),
        Arguments.of("nodeAgent.gcGrace", "1 minute", "at '/nodeAgent/gcGrace'"),
        Arguments.of("nodeAgent.cni.spoolDir", "/var/run/nodemesh/netns", "nodeAgent.cni.spoolDir must differ"),
        Arguments.of("controlPlane.config.netnsTemplate", "/var/run/nodemesh/netns/pod-{podUid}",
            "with nodeAgent.enabled it must be <directory>/{podUid}"));
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("invalidValues")
  void invalidValuesFailNamingTheValue(String key, Object value, String message) {
    assertThat(HelmChart.template().set(key, value).renderError()).contains(message);
  }

  @Test
  void aTemplateWithAPrefixIsFineWithoutTheAgent() {
    Manifests manifests = HelmChart.template().set("nodeAgent.enabled", false)
        .set("controlPlane.config.netnsTemplate", "/var/run/nodemesh/netns/pod-{podUid}").render();

    assertThat(manifests.all(DaemonSet.class)).hasSize(1);
  }

  @Test
  void newPodsWaitForTheirListenerReportedToEveryReplicaThroughAHeadlessService() {
    assertThat(agent(defaults).getArgs()).contains(
        "--control-plane-address=nodemesh-control-plane-replicas.nodemesh-system.svc.cluster.local:15010",
        "--listener-wait=5s");
    Service replicas = defaults.named(Service.class, "nodemesh-control-plane-replicas");
    assertThat(replicas.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(replicas.getSpec().getSelector())
        .isEqualTo(defaults.named(Deployment.class, "nodemesh-control-plane").getSpec().getSelector().getMatchLabels());
    assertThat(replicas.getSpec().getPorts()).singleElement()
        .satisfies(port -> assertThat(port.getTargetPort().getStrVal()).isEqualTo("grpc-xds"));

    Manifests off = HelmChart.template().set("nodeAgent.waitForListener", false).render();
    assertThat(agent(off).getArgs()).noneMatch(arg -> arg.startsWith("--control-plane-address"));
    assertThat(off.all(Service.class)).extracting(service -> service.getMetadata().getName())
        .doesNotContain("nodemesh-control-plane-replicas");
  }

  @Test
  void withMutualTlsOnTheXdsPortTheAgentReportsOverTlsWithTheEnvoysClientCertificate() {
    Manifests manifests = HelmChart.template().set("xdsTls.enabled", true).set("xdsTls.serverSecretName", "server")
        .set("xdsTls.caSecretName", "ca").set("xdsTls.clientAuth.enabled", true)
        .set("xdsTls.clientAuth.clientSecretName", "client").render();

    assertThat(agent(manifests).getArgs()).contains(
        "--control-plane-ca-file=/etc/nodemesh/xds-tls-ca/ca.crt",
        "--control-plane-server-name=nodemesh-control-plane.nodemesh-system.svc.cluster.local",
        "--control-plane-cert-file=/etc/nodemesh/xds-tls-client/tls.crt",
        "--control-plane-key-file=/etc/nodemesh/xds-tls-client/tls.key");
    assertThat(pod(manifests).getVolumes()).filteredOn(volume -> volume.getSecret() != null)
        .extracting(volume -> volume.getSecret().getSecretName()).containsExactlyInAnyOrder("ca", "client");
    AgentSettings.parse(agent(manifests).getArgs().stream().filter(arg -> arg.startsWith("--control-plane"))
        .toArray(String[]::new), Map.of()); // the combination parses
  }

  @Test
  void notesMentionTheAgentRollout() {
    assertThat(HelmChart.template().installDryRunOutput())
        .contains("rollout status daemonset/" + NAME)
        .contains("port-forward pod/<agent pod on the node> 15017")
        .contains("localhost:15017/debug/pods");
  }

  private static DaemonSet daemonSet(Manifests manifests) {
    return manifests.named(DaemonSet.class, NAME);
  }

  private static PodSpec pod(Manifests manifests) {
    return daemonSet(manifests).getSpec().getTemplate().getSpec();
  }

  private static Container agent(Manifests manifests) {
    return pod(manifests).getContainers().stream().filter(c -> c.getName().equals("node-agent")).findFirst()
        .orElseThrow();
  }

  private static Container installer(Manifests manifests) {
    return pod(manifests).getInitContainers().stream().filter(c -> c.getName().equals("install-cni")).findFirst()
        .orElseThrow();
  }
}
