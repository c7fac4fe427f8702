package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.nodemesh.app.Settings;
import io.nodemesh.flags.Flag;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The control plane's Deployment, RBAC, Service, PodDisruptionBudget and ServiceMonitor as rendered by Helm. */
class ControlPlaneManifestsTest {

  private static final String NAME = "nodemesh-control-plane";

  private final Manifests defaults = HelmChart.template().render();

  @Test
  void clusterRoleGrantsReadOnPodsServicesEndpointSlicesNodesNamespacesAndRoutesAndWritesEventsAndRouteStatus() {
    Set<String> read = Set.of("get", "list", "watch");
    Set<String> status = Set.of("get", "update", "patch");
    assertThat(verbsByResource(defaults)).isEqualTo(Map.of(
        "/pods", read,
        "/services", read,
        "/nodes", read,
        "/namespaces", read,
        "discovery.k8s.io/endpointslices", read,
        "gateway.networking.k8s.io/httproutes", read,
        "gateway.networking.k8s.io/grpcroutes", read,
        "gateway.networking.k8s.io/httproutes/status", status,
        "gateway.networking.k8s.io/grpcroutes/status", status,
        "/events", Set.of("create")));
  }

  @Test
  void routeStatusLeaderElectionMayUseLeasesInTheReleaseNamespaceOnly() {
    Role role = defaults.named(Role.class, NAME);
    RoleBinding binding = defaults.named(RoleBinding.class, NAME);

    assertThat(role.getMetadata().getNamespace()).isEqualTo(HelmChart.NAMESPACE);
    assertThat(role.getRules()).singleElement().satisfies(rule -> {
      assertThat(rule.getApiGroups()).containsExactly("coordination.k8s.io");
      assertThat(rule.getResources()).containsExactly("leases");
      assertThat(rule.getVerbs()).containsExactlyInAnyOrder("get", "create", "update");
    });
    assertThat(binding.getMetadata().getNamespace()).isEqualTo(HelmChart.NAMESPACE);
    assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(binding.getRoleRef().getName()).isEqualTo(NAME);
    assertThat(binding.getSubjects()).extracting(Subject::getKind, Subject::getName, Subject::getNamespace)
        .containsExactly(tuple("ServiceAccount", NAME, HelmChart.NAMESPACE));
    Container container = container(defaults);
    assertThat(container.getArgs()).contains("--leader-election-namespace=" + HelmChart.NAMESPACE);
    assertThat(container.getEnv()).filteredOn(env -> env.getValueFrom() != null)
        .extracting(env -> env.getName() + "=" + env.getValueFrom().getFieldRef().getFieldPath())
        .contains("POD_NAME=metadata.name", "POD_NAMESPACE=metadata.namespace");
  }

  @Test
  void withoutRouteStatusThereIsNoLeaseRoleAndNoStatusWrite() {
    Manifests manifests = HelmChart.template().set("controlPlane.config.routeStatus", false).render();

    assertThat(manifests.all(Role.class)).extracting(role -> role.getMetadata().getName()).doesNotContain(NAME);
    assertThat(manifests.all(RoleBinding.class)).extracting(b -> b.getMetadata().getName()).doesNotContain(NAME);
    assertThat(verbsByResource(manifests)).doesNotContainKeys("gateway.networking.k8s.io/httproutes/status",
        "gateway.networking.k8s.io/grpcroutes/status").containsKey("gateway.networking.k8s.io/httproutes");
    assertThat(container(manifests).getArgs()).contains("--route-status=false");
  }

  @Test
  void tokenAuthenticationAddsCreateOnTokenReviewsAndNothingElse() {
    Map<String, Set<String>> withTokens =
        verbsByResource(HelmChart.template().set("controlPlane.config.nodeAuth", "peer-or-token").render());
    Map<String, Set<String>> expected = new TreeMap<>(verbsByResource(defaults));
    expected.put("authentication.k8s.io/tokenreviews", Set.of("create"));

    assertThat(withTokens).isEqualTo(expected);
    assertThat(verbsByResource(HelmChart.template().set("controlPlane.config.nodeAuth", "none").render()))
        .isEqualTo(verbsByResource(defaults));
  }

  private static Map<String, Set<String>> verbsByResource(Manifests manifests) {
    ClusterRole role = manifests.named(ClusterRole.class, NAME);
    Map<String, Set<String>> verbsByResource = new TreeMap<>();
    for (PolicyRule rule : role.getRules()) {
      assertThat(rule.getResourceNames()).as("no rule is limited to or widened by names").isNullOrEmpty();
      assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          verbsByResource.computeIfAbsent(group + "/" + resource, key -> new TreeSet<>()).addAll(rule.getVerbs());
        }
      }
    }
    return verbsByResource;
  }

  @Test
  void clusterRoleIsBoundToTheControlPlaneServiceAccountOnly() {
    ClusterRoleBinding binding = defaults.named(ClusterRoleBinding.class, NAME);
    Deployment deployment = defaults.named(Deployment.class, NAME);

    assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
    assertThat(binding.getRoleRef().getName()).isEqualTo(NAME);
    assertThat(binding.getSubjects()).extracting(Subject::getKind, Subject::getName, Subject::getNamespace)
        .containsExactly(tuple("ServiceAccount", NAME, HelmChart.NAMESPACE));
    assertThat(deployment.getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo(NAME);
  }

  @Test
  void deploymentRunsTwoReplicasSpreadOverNodesAndRollsWithoutLosingOne() {
    Deployment deployment = defaults.named(Deployment.class, NAME);

    assertThat(deployment.getSpec().getReplicas()).isEqualTo(2);
    assertThat(deployment.getSpec().getStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isZero();
    var antiAffinity = deployment.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity();
    assertThat(antiAffinity.getPreferredDuringSchedulingIgnoredDuringExecution()).singleElement().satisfies(term -> {
      assertThat(term.getPodAffinityTerm().getTopologyKey()).isEqualTo("kubernetes.io/hostname");
      assertThat(term.getPodAffinityTerm().getLabelSelector().getMatchLabels())
          .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    });
  }

  @Test
  void replicasAndHardAntiAffinityFollowTheValues() {
    Deployment deployment = HelmChart.template()
        .set("controlPlane.replicas", 3)
        .set("controlPlane.antiAffinity", "hard")
        .render()
        .named(Deployment.class, NAME);

    assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
    var antiAffinity = deployment.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity();
    assertThat(antiAffinity.getPreferredDuringSchedulingIgnoredDuringExecution()).isNullOrEmpty();
    assertThat(antiAffinity.getRequiredDuringSchedulingIgnoredDuringExecution()).singleElement()
        .satisfies(term -> assertThat(term.getTopologyKey()).isEqualTo("kubernetes.io/hostname"));
  }

  @Test
  void argsCarryEveryControlPlaneFlagWithItsDefault() {
    List<String> args = container(defaults).getArgs();

    assertThat(args).containsExactly(
        "--xds-port=15010",
        "--admin-port=15014",
        "--debug-port=15015",
        "--debug-address=127.0.0.1",
        "--debug-auth=none",
        "--debug-token-file=",
        "--admin-read-timeout=10s",
        "--admin-max-connections=256",
        "--admin-max-connections-per-address=32",
        "--debounce-quiet=2ms",
        "--debounce-max=20ms",
        "--informer-resync=300s",
        "--route-discovery-interval=60s",
        "--mesh-all-namespaces=false",
        "--netns-mode=template",
        "--netns-template=/var/run/nodemesh/netns/{podUid}",
        "--netns-allowed-prefix=/var/run/netns/",
        "--upstream-binding=shared",
        "--service-cidrs=",
        "--buffer-limit-bytes=32768",
        "--so-mark=1337",
        "--capture-port=15001",
        "--connect-timeout=5s",
        "--pod-max-connections=0",
        "--pod-max-connection-rate=0",
        "--pod-max-request-rate-per-connection=0",
        "--max-message-bytes=4194304",
        "--log-level=info",
        "--xds-max-request-bytes=4194304",
        "--node-auth=peer",
        "--trust-loopback-clients=false",
        "--envoy-namespace=nodemesh-system",
        "--node-auth-token-audience=nodemesh",
        "--xds-tls-cert-file=",
        "--xds-tls-key-file=",
        "--xds-tls-client-ca-file=",
        "--xds-tls-reload-interval=60s",
        "--xds-max-streams-per-address=64",
        "--xds-allow-anonymous-clients=false",
        "--proxyless-placement-wait=2s",
        "--xds-max-streams=20000",
        "--xds-max-name-bytes-per-address=16777216",
        "--xds-first-request-timeout=10s",
        "--xds-keepalive-time=30s",
        "--xds-keepalive-timeout=10s",
        "--xds-max-connection-age=30m",
        "--xds-max-connection-age-grace=10s",
        "--xds-max-connection-idle=5m",
        "--xds-quarantine-max-entries=10000",
        "--xds-quarantine-forget-after=10m",
        "--node-auth-token-review-rate=2",
        "--node-auth-token-review-queue=1000",
        "--xds-max-subscribed-names=100000",
        "--xds-max-request-rate=100",
        "--xds-request-burst=1000",
        "--xds-nack-isolation-max-probes=64",
        "--route-status=true",
        "--leader-election-namespace=nodemesh-system",
        "--leader-election-lease=nodemesh-route-status",
        "--leader-election-lease-duration=15s",
        "--leader-election-renew-deadline=10s",
        "--leader-election-retry-period=2s");
  }

  /**
   * Flags the chart deliberately sets differently from the binary's default: nothing in the chart connects over
   * loopback, while the demo and the test harnesses rely on it.
   */
  private static final Map<Flag<?>, String> CHART_OVERRIDES = Map.of(Settings.TRUST_LOOPBACK_CLIENTS, "false");

  @Test
  void argsCoverEveryFlagTheControlPlaneDeclaresWithTheSameDefault() {
    List<String> args = container(defaults).getArgs();
    for (Flag<?> flag : Settings.ALL) {
      if (CHART_OVERRIDES.containsKey(flag)) {
        assertThat(args).contains("--" + flag.name() + "=" + CHART_OVERRIDES.get(flag));
      } else {
        assertThat(args).as("chart default of --%s", flag.name())
            .contains("--" + flag.name() + "=" + flag.defaultValue());
      }
    }
  }

  @Test
  void everyConfigValueReachesItsFlag() {
    Container container = container(HelmChart.template().values("tuned-control-plane").render());

    assertThat(container.getArgs()).contains(
        "--xds-port=16010",
        "--admin-port=16014",
        "--debug-port=16015",
        "--admin-read-timeout=3s",
        "--admin-max-connections=100",
        "--admin-max-connections-per-address=10",
        "--debounce-quiet=25ms",
        "--debounce-max=1s",
        "--route-discovery-interval=2m",
        "--mesh-all-namespaces=true",
        "--netns-mode=annotation",
        "--netns-template=/run/pins/{podUid}",
        "--netns-allowed-prefix=/run/netns/",
        "--upstream-binding=per-pod",
        "--buffer-limit-bytes=65536",
        "--so-mark=4242",
        "--capture-port=15101",
        "--connect-timeout=2s",
        "--pod-max-connections=2000",
        "--pod-max-connection-rate=200",
        "--pod-max-request-rate-per-connection=50",
        "--max-message-bytes=16777216",
        "--log-level=debug",
        "--xds-max-request-bytes=1048576",
        "--node-auth=peer-or-token",
        "--trust-loopback-clients=true",
        "--node-auth-token-audience=mesh.example.com",
        "--xds-tls-reload-interval=15s",
        "--xds-max-streams-per-address=8",
        "--proxyless-placement-wait=500ms",
        "--xds-max-subscribed-names=20000",
        "--xds-max-request-rate=50",
        "--xds-request-burst=200",
        "--xds-nack-isolation-max-probes=0",
        "--route-status=false",
        "--leader-election-lease=mesh-status",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=5s",
        "--extra-flag=x");
    assertThat(container.getPorts()).extracting(ContainerPort::getName, ContainerPort::getContainerPort)
        .containsExactly(
            tuple("grpc-xds", 16010),
            tuple("http-admin", 16014));
  }

  @Test
  void probesAskHealthzAndReadyzOnTheAdminPort() {
    Container container = container(defaults);

    assertHttpGet(container.getLivenessProbe(), "/healthz", "http-admin");
    assertHttpGet(container.getStartupProbe(), "/healthz", "http-admin");
    assertHttpGet(container.getReadinessProbe(), "/readyz", "http-admin");
    assertThat(container.getPorts()).filteredOn(port -> port.getName().equals("http-admin"))
        .singleElement().satisfies(port -> assertThat(port.getContainerPort()).isEqualTo(15014));
    assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
  }

  @Test
  void controlPlaneRunsAsNonRootWithReadOnlyRootAndNoCapabilities() {
    Deployment deployment = defaults.named(Deployment.class, NAME);
    PodSecurityContext pod = deployment.getSpec().getTemplate().getSpec().getSecurityContext();
    SecurityContext container = container(defaults).getSecurityContext();

    assertThat(pod.getRunAsNonRoot()).isTrue();
    assertThat(pod.getRunAsUser()).isPositive();
    assertThat(pod.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(container.getRunAsNonRoot()).isTrue();
    assertThat(container.getReadOnlyRootFilesystem()).isTrue();
    assertThat(container.getAllowPrivilegeEscalation()).isFalse();
    assertThat(container.getPrivileged()).isFalse();
    assertThat(container.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(container.getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(container.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
  }

  @Test
  void serviceSelectsTheControlPlanePodsOnlyAndExposesGrpcXdsAndAdmin() {
    Service service = defaults.named(Service.class, NAME);
    Deployment deployment = defaults.named(Deployment.class, NAME);
    DaemonSet envoy = defaults.named(DaemonSet.class, "nodemesh-envoy");
    Map<String, String> selector = service.getSpec().getSelector();

    assertThat(Manifests.selects(selector, deployment.getSpec().getTemplate().getMetadata().getLabels())).isTrue();
    assertThat(Manifests.selects(selector, envoy.getSpec().getTemplate().getMetadata().getLabels()))
        .as("the Service must not select Envoy pods").isFalse();
    assertThat(service.getSpec().getPorts())
        .extracting(ServicePort::getName, ServicePort::getPort, p -> p.getTargetPort().getStrVal(), ServicePort::getAppProtocol)
        .containsExactly(
            tuple("grpc-xds", 15010, "grpc-xds", "grpc"),
            tuple("http-admin", 15014, "http-admin", "http"));
    List<String> containerPorts = container(defaults).getPorts().stream().map(ContainerPort::getName).toList();
    assertThat(containerPorts).contains("grpc-xds", "http-admin");
  }

  @Test
  void byDefaultTheDebugPortListensOnLoopbackOnlyAndNothingExposesIt() {
    Container container = container(defaults);
    Service service = defaults.named(Service.class, NAME);

    assertThat(container.getArgs()).contains("--debug-address=127.0.0.1", "--debug-auth=none", "--debug-port=15015");
    assertThat(service.getSpec().getPorts()).extracting(ServicePort::getPort).doesNotContain(15015);
    assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).doesNotContain("http-debug");
    assertThat(container.getPorts()).extracting(ContainerPort::getContainerPort).doesNotContain(15015);
    for (Probe probe : List.of(container.getStartupProbe(), container.getLivenessProbe(), container.getReadinessProbe())) {
      String portName = probe.getHttpGet().getPort().getStrVal();
      assertThat(container.getPorts()).filteredOn(port -> port.getName().equals(portName))
          .singleElement().satisfies(port -> assertThat(port.getContainerPort()).as("probes use --admin-port")
              .isEqualTo(15014));
    }
    assertThat(verbsByResource(defaults)).doesNotContainKeys("authentication.k8s.io/tokenreviews",
        "authorization.k8s.io/subjectaccessreviews");
    assertThat(defaults.all(ClusterRole.class)).extracting(role -> role.getMetadata().getName())
        .doesNotContain(NAME + "-debug-reader");
  }

  @Test
  void anExposedDebugPortWithTokenReviewBindsAllAddressesJoinsTheServiceAndMayReviewTokensAndAccess() {
    Manifests manifests = HelmChart.template()
        .set("controlPlane.debug.expose", true)
        .set("controlPlane.debug.auth", "token-review")
        .render();
    Container container = container(manifests);
    Map<String, Set<String>> expected = new TreeMap<>(verbsByResource(defaults));
    expected.put("authentication.k8s.io/tokenreviews", Set.of("create"));
    expected.put("authorization.k8s.io/subjectaccessreviews", Set.of("create"));

    assertThat(container.getArgs()).contains("--debug-address=0.0.0.0", "--debug-auth=token-review",
        "--debug-token-file=");
    assertThat(container.getPorts()).extracting(ContainerPort::getName, ContainerPort::getContainerPort)
        .contains(tuple("http-debug", 15015));
    assertThat(manifests.named(Service.class, NAME).getSpec().getPorts())
        .extracting(ServicePort::getName, ServicePort::getPort, p -> p.getTargetPort().getStrVal())
        .contains(tuple("http-debug", 15015, "http-debug"));
    assertThat(verbsByResource(manifests)).isEqualTo(expected);
    ClusterRole reader = manifests.named(ClusterRole.class, NAME + "-debug-reader");
    assertThat(reader.getRules()).singleElement().satisfies(rule -> {
      assertThat(rule.getNonResourceURLs()).containsExactly("/debug/nodemesh");
      assertThat(rule.getVerbs()).containsExactly("get");
    });
  }

  @Test
  void aTokenFileComesFromTheSecretMountedAsADirectory() {
    Manifests manifests = HelmChart.template()
        .set("controlPlane.debug.auth", "token-file")
        .set("controlPlane.debug.tokenSecretName", "debug-tokens")
        .render();
    Deployment deployment = manifests.named(Deployment.class, NAME);
    Container container = container(manifests);

    assertThat(container.getArgs()).contains("--debug-address=127.0.0.1", "--debug-auth=token-file",
        "--debug-token-file=/etc/nodemesh/debug-tokens/tokens");
    assertThat(container.getVolumeMounts()).filteredOn(mount -> mount.getName().equals("debug-tokens"))
        .singleElement().satisfies(mount -> {
          assertThat(mount.getMountPath()).isEqualTo("/etc/nodemesh/debug-tokens");
          assertThat(mount.getSubPath()).isNull();
          assertThat(mount.getReadOnly()).isTrue();
        });
    assertThat(deployment.getSpec().getTemplate().getSpec().getVolumes())
        .filteredOn(volume -> volume.getName().equals("debug-tokens")).singleElement()
        .satisfies(volume -> assertThat(volume.getSecret().getSecretName()).isEqualTo("debug-tokens"));
    assertThat(verbsByResource(manifests)).isEqualTo(verbsByResource(defaults));
  }

  @Test
  void deploymentSelectorMatchesItsOwnPodTemplate() {
    Deployment deployment = defaults.named(Deployment.class, NAME);

    assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
  }

  @Test
  void podDisruptionBudgetCoversExactlyTheControlPlanePods() {
    PodDisruptionBudget budget = defaults.named(PodDisruptionBudget.class, NAME);
    Deployment deployment = defaults.named(Deployment.class, NAME);

    assertThat(budget.getSpec().getSelector().getMatchLabels())
        .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    assertThat(budget.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
    assertThat(budget.getSpec().getMinAvailable()).isNull();
  }

  @Test
  void serviceMonitorIsOffByDefault() {
    assertThat(defaults.generic("monitoring.coreos.com/v1", "ServiceMonitor")).isEmpty();
  }

  @Test
  void serviceMonitorScrapesMetricsOnTheAdminPortOfTheControlPlaneService() {
    Manifests manifests = HelmChart.template()
        .set("controlPlane.serviceMonitor.enabled", true)
        .set("controlPlane.serviceMonitor.labels.release", "prometheus")
        .render();
    GenericKubernetesResource monitor = manifests.generic("monitoring.coreos.com/v1", "ServiceMonitor").orElseThrow();
    Service service = manifests.named(Service.class, NAME);

    assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "prometheus");
    Map<String, Object> spec = monitor.get("spec");
    @SuppressWarnings("unchecked")
    Map<String, String> matchLabels = (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
    assertThat(service.getMetadata().getLabels()).containsAllEntriesOf(matchLabels);
    assertThat(monitor.<List<Map<String, Object>>>get("spec", "endpoints")).singleElement().satisfies(endpoint -> {
      assertThat(endpoint).containsEntry("port", "http-admin").containsEntry("path", "/metrics");
    });
    assertThat(monitor.<List<String>>get("spec", "namespaceSelector", "matchNames")).containsExactly(HelmChart.NAMESPACE);
  }

  @Test
  void customImagesAreUsedAndAnEmptyTagMeansTheAppVersion() {
    assertThat(container(defaults).getImage()).isEqualTo("ghcr.io/nodemesh/control-plane:0.1.0");

    Manifests custom = HelmChart.template().values("custom-images").render();

    assertThat(container(custom).getImage()).isEqualTo("registry.example.com/mirror/nodemesh-cp:1.2.3");
    assertThat(container(custom).getImagePullPolicy()).isEqualTo("Always");
    assertThat(custom.one(Deployment.class).getSpec().getTemplate().getSpec().getImagePullSecrets())
        .extracting(secret -> secret.getName()).containsExactly("mirror-pull");
  }

  @Test
  void perPodUpstreamBindingReachesTheControlPlane() {
    Container container = container(HelmChart.template()
        .set("controlPlane.config.upstreamBinding", "per-pod")
        .render());

    assertThat(container.getArgs()).contains("--upstream-binding=per-pod").doesNotContain("--upstream-binding=shared");
  }

  @Test
  void envoyNamespaceIsTheReleaseNamespace() {
    assertThat(container(defaults).getArgs()).contains("--envoy-namespace=" + HelmChart.NAMESPACE);
  }

  @Test
  void tlsMountsOnlyTheServerSecretAndTheClientCaAndPointsTheFlagsAtThem() {
    Manifests tls = HelmChart.template().values("tls").render();
    Deployment deployment = tls.named(Deployment.class, NAME);
    Container container = container(tls);

    assertThat(container.getArgs()).contains(
        "--xds-tls-cert-file=/etc/nodemesh/xds-tls/server/tls.crt",
        "--xds-tls-key-file=/etc/nodemesh/xds-tls/server/tls.key",
        "--xds-tls-client-ca-file=/etc/nodemesh/xds-tls/ca/ca.crt");
    assertThat(container.getVolumeMounts())
        .filteredOn(mount -> mount.getName().startsWith("xds-tls"))
        .extracting(VolumeMount::getName, VolumeMount::getMountPath, VolumeMount::getReadOnly, VolumeMount::getSubPath)
        .containsExactly(
            tuple("xds-tls-server", "/etc/nodemesh/xds-tls/server", true, null),
            tuple("xds-tls-ca", "/etc/nodemesh/xds-tls/ca", true, null));
    Map<String, Volume> volumes = new TreeMap<>();
    deployment.getSpec().getTemplate().getSpec().getVolumes().forEach(volume -> volumes.put(volume.getName(), volume));
    assertThat(volumes.get("xds-tls-server").getSecret().getSecretName()).isEqualTo("nodemesh-xds-server");
    assertThat(volumes.get("xds-tls-server").getSecret().getItems()).extracting(KeyToPath::getKey)
        .containsExactly("tls.crt", "tls.key");
    assertThat(volumes.get("xds-tls-ca").getSecret().getSecretName()).isEqualTo("nodemesh-xds-ca");
    assertThat(volumes.get("xds-tls-ca").getSecret().getItems()).extracting(KeyToPath::getKey)
        .containsExactly("ca.crt");

    Manifests serverOnly = HelmChart.template().values("tls").set("xdsTls.clientAuth.enabled", false).render();
    assertThat(container(serverOnly).getArgs()).contains("--xds-tls-client-ca-file=");
    assertThat(container(serverOnly).getVolumeMounts()).extracting(VolumeMount::getName).doesNotContain("xds-tls-ca");
  }

  @Test
  void withoutTlsNothingIsMountedAndTheFlagsAreEmpty() {
    Container container = container(defaults);

    assertThat(container.getArgs()).contains("--xds-tls-cert-file=", "--xds-tls-key-file=");
    assertThat(container.getVolumeMounts()).extracting(VolumeMount::getName).containsExactly("tmp");
  }

  private static Container container(Manifests manifests) {
    return manifests.named(Deployment.class, NAME).getSpec().getTemplate().getSpec().getContainers().stream()
        .filter(container -> container.getName().equals("control-plane"))
        .findFirst()
        .orElseThrow();
  }

  static void assertHttpGet(Probe probe, String path, String portName) {
    assertThat(probe).isNotNull();
    assertThat(probe.getHttpGet().getPath()).isEqualTo(path);
    assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo(portName);
  }
}
