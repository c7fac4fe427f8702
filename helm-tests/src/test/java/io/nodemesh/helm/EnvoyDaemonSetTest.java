package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;

/** The node Envoy DaemonSet: identity wiring, privileges, host mounts, probes, drain and rollout. */
class EnvoyDaemonSetTest {

  private final Manifests defaults = HelmChart.template().render();

  @Test
  void selectorMatchesTheEnvoyPodsAndNotTheControlPlanePods() {
    DaemonSet daemonSet = defaults.named(DaemonSet.class, "nodemesh-envoy");
    Map<String, String> selector = daemonSet.getSpec().getSelector().getMatchLabels();

    assertThat(Manifests.selects(selector, daemonSet.getSpec().getTemplate().getMetadata().getLabels())).isTrue();
    assertThat(Manifests.selects(selector, defaults.one(Deployment.class).getSpec().getTemplate().getMetadata().getLabels()))
        .isFalse();
  }

  @Test
  void rollingUpdateSurgesOneEnvoyPerNodeAndNeverLeavesANodeWithout() {
    var rollingUpdate = defaults.named(DaemonSet.class, "nodemesh-envoy").getSpec().getUpdateStrategy().getRollingUpdate();

    assertThat(defaults.named(DaemonSet.class, "nodemesh-envoy").getSpec().getUpdateStrategy().getType()).isEqualTo("RollingUpdate");
    assertThat(rollingUpdate.getMaxSurge().getIntVal()).isEqualTo(1);
    assertThat(rollingUpdate.getMaxUnavailable().getIntVal()).isZero();
  }

  @Test
  void envoyDropsEveryCapabilityButNetAdminAndSysAdmin() {
    SecurityContext security = envoy(defaults).getSecurityContext();

    assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(security.getCapabilities().getAdd()).containsExactlyInAnyOrder("NET_ADMIN", "SYS_ADMIN");
    assertThat(security.getPrivileged()).isFalse();
    assertThat(security.getAllowPrivilegeEscalation()).isFalse();
    assertThat(security.getReadOnlyRootFilesystem()).isTrue();
    assertThat(security.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(podSpec(defaults).getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
  }

  @Test
  void envoyNeitherUsesTheHostNetworkNorGetsAKubernetesToken() {
    PodSpec pod = podSpec(defaults);

    assertThat(pod.getHostNetwork()).isFalse();
    assertThat(pod.getHostPID()).isNull();
    assertThat(pod.getAutomountServiceAccountToken()).isFalse();
    assertThat(pod.getServiceAccountName()).isEqualTo("nodemesh-envoy");
  }

  @Test
  void netnsPinDirectoryIsMountedFromTheHostAtTheSamePathWithHostToContainerPropagation() {
    assertThat(hostMounts(defaults)).containsExactly(
        tuple("/var/run/nodemesh/netns", "/var/run/nodemesh/netns", "HostToContainer", true));
  }

  @Test
  void annotationModeAlsoMountsTheAllowedPrefix() {
    Manifests manifests = HelmChart.template().values("tuned-control-plane").render();

    assertThat(hostMounts(manifests)).containsExactlyInAnyOrder(
        tuple("/run/pins", "/run/pins", "HostToContainer", true),
        tuple("/run/netns", "/run/netns", "HostToContainer", true));
  }

  @Test
  void annotationModeMountsTheDirectoryOnceWhenPinsAndAllowedPrefixCoincide() {
    Manifests manifests = HelmChart.template()
        .set("controlPlane.config.netnsMode", "annotation")
        .set("controlPlane.config.netnsTemplate", "/var/run/netns/{podUid}")
        .render();

    assertThat(hostMounts(manifests)).containsExactly(
        tuple("/var/run/netns", "/var/run/netns", "HostToContainer", true));
  }

  @Test
  void withTlsEnvoyMountsTheCaAndItsClientCertificateButNeverTheServerKey() {
    Manifests tls = HelmChart.template().values("tls").render();

    assertThat(envoy(tls).getVolumeMounts()).filteredOn(mount -> mount.getName().startsWith("xds-tls"))
        .extracting(VolumeMount::getName, VolumeMount::getMountPath, VolumeMount::getReadOnly)
        .containsExactly(
            tuple("xds-tls-ca", "/etc/nodemesh/xds-tls/ca", true),
            tuple("xds-tls-client", "/etc/nodemesh/xds-tls/client", true));
    Map<String, String> secrets = new TreeMap<>();
    podSpec(tls).getVolumes().stream().filter(volume -> volume.getSecret() != null)
        .forEach(volume -> secrets.put(volume.getName(), volume.getSecret().getSecretName()));
    assertThat(secrets).isEqualTo(Map.of("xds-tls-ca", "nodemesh-xds-ca", "xds-tls-client", "nodemesh-xds-client"));
    assertThat(podSpec(defaults).getVolumes()).noneMatch(volume -> volume.getSecret() != null);
  }

  @Test
  void nodeIdentityEnvComesFromTheDownwardApi() {
    Map<String, String> fieldPaths = new TreeMap<>();
    envoy(defaults).getEnv().forEach(env -> fieldPaths.put(env.getName(), env.getValueFrom().getFieldRef().getFieldPath()));

    assertThat(fieldPaths).isEqualTo(Map.of("POD_NAME", "metadata.name", "NODE_NAME", "spec.nodeName"));
  }

  @Test
  void argsLoadTheMountedBootstrapAndSetDrainTimeConcurrencyAndNoHotRestart() {
    Container envoy = envoy(defaults);
    List<String> args = envoy.getArgs();

    String configPath = EnvoyBootstrap.argument(args, "--config-path");
    VolumeMount bootstrapMount = envoy.getVolumeMounts().stream()
        .filter(mount -> configPath.startsWith(mount.getMountPath() + "/")).findFirst().orElseThrow();
    Volume volume = podSpec(defaults).getVolumes().stream()
        .filter(v -> v.getName().equals(bootstrapMount.getName())).findFirst().orElseThrow();
    assertThat(volume.getConfigMap().getName()).isEqualTo(defaults.one(ConfigMap.class).getMetadata().getName());
    assertThat(EnvoyBootstrap.argument(args, "--drain-time-s")).isEqualTo("30");
    assertThat(EnvoyBootstrap.argument(args, "--concurrency")).isEqualTo("2");
    assertThat(args).contains("--disable-hot-restart");
    assertThat(envoy.getCommand()).containsExactly("/usr/local/bin/envoy");
    assertThat(podSpec(defaults).getTerminationGracePeriodSeconds()).isEqualTo(45L);
  }

  @Test
  void preStopHookDrainsListenersGracefullyForTheDrainTime() {
    List<String> command = envoy(defaults).getLifecycle().getPreStop().getExec().getCommand();

    assertThat(command).startsWith("/bin/bash", "-c");
    assertThat(command.get(2))
        .contains("/dev/tcp/127.0.0.1/15000")
        .contains("POST /drain_listeners?graceful HTTP/1.1")
        .contains("sleep 30");
  }

  @Test
  void readinessProbeAsksEnvoysReadyThroughTheStatusListenerThatForwardsToTheAdminApi() {
    Container envoy = envoy(defaults);
    ControlPlaneManifestsTest.assertHttpGet(envoy.getReadinessProbe(), "/ready", "http-status");
    int statusPort = envoy.getPorts().stream().filter(port -> port.getName().equals("http-status"))
        .findFirst().orElseThrow().getContainerPort();
    assertThat(envoy.getLivenessProbe()).as("restarting a node proxy would cut every connection of the node").isNull();

    Bootstrap bootstrap = EnvoyBootstrapTest.effective(defaults);

    assertThat(bootstrap.getStaticResources().getListenersList())
        .filteredOn(listener -> listener.getAddress().getSocketAddress().getPortValue() == statusPort)
        .singleElement()
        .satisfies(listener -> assertThat(EnvoyBootstrapTest.routedPaths(listener))
            .containsEntry("/ready", "envoy-admin"));
  }

  @Test
  void aChangedBootstrapChangesThePodTemplateSoEnvoysRoll() {
    String before = checksum(defaults);
    String after = checksum(HelmChart.template().set("envoy.overload.maxDownstreamConnections", 1000).render());

    assertThat(before).matches("[0-9a-f]{64}");
    assertThat(after).isNotEqualTo(before);
  }

  @Test
  void customEnvoyImageWithoutShellDisablesThePreStopHook() {
    Manifests custom = HelmChart.template().values("custom-images").render();
    Container envoy = envoy(custom);

    assertThat(envoy.getImage()).isEqualTo("registry.example.com:5000/mirror/envoy:distroless-v1.39.0");
    assertThat(envoy.getImagePullPolicy()).isEqualTo("Always");
    assertThat(envoy.getLifecycle()).isNull();
    assertThat(podSpec(custom).getImagePullSecrets()).extracting(secret -> secret.getName()).containsExactly("mirror-pull");
  }

  @Test
  void defaultEnvoyImageIsAtLeastVersion138() {
    String image = envoy(defaults).getImage();

    assertThat(image).startsWith("envoyproxy/envoy:v1.");
    int minor = Integer.parseInt(image.replaceFirst("^envoyproxy/envoy:v1\\.(\\d+)\\..*$", "$1"));
    assertThat(minor).isGreaterThanOrEqualTo(38);
  }

  @Test
  void hostNetworkModeResolvesClusterDnsAndDoesNotSurge() {
    Manifests manifests = HelmChart.template().values("host-network").render();
    PodSpec pod = podSpec(manifests);

    assertThat(pod.getHostNetwork()).isTrue();
    assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(manifests.named(DaemonSet.class, "nodemesh-envoy").getSpec().getUpdateStrategy().getRollingUpdate().getMaxSurge().getIntVal())
        .isZero();
  }

  private static List<Tuple> hostMounts(Manifests manifests) {
    PodSpec pod = podSpec(manifests);
    return envoy(manifests).getVolumeMounts().stream()
        .flatMap(mount -> pod.getVolumes().stream()
            .filter(volume -> volume.getName().equals(mount.getName()) && volume.getHostPath() != null)
            .map(volume -> tuple(volume.getHostPath().getPath(), mount.getMountPath(), mount.getMountPropagation(),
                mount.getReadOnly())))
        .toList();
  }

  private static String checksum(Manifests manifests) {
    return manifests.named(DaemonSet.class, "nodemesh-envoy").getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/bootstrap");
  }

  static PodSpec podSpec(Manifests manifests) {
    return manifests.named(DaemonSet.class, "nodemesh-envoy").getSpec().getTemplate().getSpec();
  }

  static Container envoy(Manifests manifests) {
    return podSpec(manifests).getContainers().stream()
        .filter(container -> container.getName().equals("envoy"))
        .findFirst()
        .orElseThrow();
  }
}
