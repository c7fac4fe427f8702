package io.nodemesh.agent;

import ch.qos.logback.classic.Level;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.nodemesh.http.AdminListeners;
import io.nodemesh.common.SharedFlags;
import io.nodemesh.flags.Flag;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.PodInfo;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * {@code java -jar nodemesh-node-agent.jar [install-cni | uninstall] [flags]} (the image: {@code nodemesh node-agent
 * ...}): the node agent (default), the init container's one-shot plugin install, or a manual removal of everything
 * nodemesh put on a node.
 */
public final class NodeAgentMain {

  private static final Logger log = LoggerFactory.getLogger(NodeAgentMain.class);

  private NodeAgentMain() {}

  public static void main(String[] args) throws Exception {
    System.exit(run(args));
  }

  /** Runs a mode and returns the process exit code. */
  public static int run(String[] args) throws Exception {
    String mode = args.length > 0 && !args[0].startsWith("-") ? args[0] : "run";
    String[] flags = mode.equals("run") ? args : Arrays.copyOfRange(args, 1, args.length);
    if (Arrays.asList(flags).contains("--help") || Arrays.asList(flags).contains("-h")) {
      System.out.print(AgentSettings.help());
      return 0;
    }
    AgentSettings settings;
    try {
      settings = AgentSettings.parse(flags, System.getenv());
      if (mode.equals("run") && settings.get(AgentSettings.NODE_NAME).isEmpty()) {
        throw new Flag.UsageException("--node-name (NODEMESH_NODE_NAME) is required");
      }
      if (!mode.equals("run") && !mode.equals("install-cni") && !mode.equals("uninstall")) {
        throw new Flag.UsageException("unknown node-agent mode '" + mode + "': run (default), install-cni or uninstall");
      }
    } catch (Flag.UsageException e) {
      System.err.println("nodemesh node-agent: " + e.getMessage());
      return 2;
    }
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME))
        .setLevel(Level.toLevel(settings.get(SharedFlags.LOG_LEVEL).name()));
    return switch (mode) {
      case "install-cni" -> installCni(settings);
      case "uninstall" -> uninstall(settings);
      default -> runAgent(settings);
    };
  }

  /** The init container: install the executable, chain it into the conflist, wait for one if there is none. */
  static int installCni(AgentSettings settings) throws Exception {
    CniInstaller installer = CniInstaller.of(settings);
    Duration wait = settings.get(AgentSettings.CNI_CONF_WAIT);
    Instant deadline = wait.isZero() ? Instant.MAX : Instant.now().plus(wait);
    Instant nextLog = Instant.now();
    while (true) {
      CniInstaller.Outcome outcome = installer.install();
      if (outcome != CniInstaller.Outcome.NO_CONFIG_YET) {
        log.info("nodemesh-cni {} in {} ({})", outcome == CniInstaller.Outcome.INSTALLED ? "installed" : "already installed",
            installer.primary().orElseThrow(), installer.pluginPath());
        return 0;
      }
      if (Instant.now().isAfter(deadline)) {
        log.error("no CNI configuration appeared in {} within {}", installer.confDir(), wait);
        return 1;
      }
      if (!Instant.now().isBefore(nextLog)) {
        log.info("waiting for the main CNI to write its configuration into {}", installer.confDir());
        nextLog = Instant.now().plusSeconds(30);
      }
      // the main CNI's DaemonSet writes its file when it starts; nothing to wake us, so poll
      TimeUnit.SECONDS.sleep(1);
    }
  }

  /** Manual cleanup: plugin, conflist entry, rules and pins. No API access needed. */
  static int uninstall(AgentSettings settings) throws Exception {
    try (NodeAgent agent = new NodeAgent(settings, new NoPods(), NetnsIptables.nsenter(), CniInstaller.of(settings),
        Clock.systemUTC())) {
      agent.uninstall().get(5, TimeUnit.MINUTES);
    }
    return 0;
  }

  static int runAgent(AgentSettings settings) throws Exception {
    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("TERM"), signal -> stop.countDown());
    Signal.handle(new Signal("INT"), signal -> stop.countDown());

    // fabric8 auto-configuration: in-cluster service account, KUBECONFIG, KUBERNETES_MASTER
    KubernetesClient client = new KubernetesClientBuilder().build();
    String node = settings.get(AgentSettings.NODE_NAME);
    CniInstaller installer = settings.get(AgentSettings.CNI_INSTALL) ? CniInstaller.of(settings) : null;
    NodeAgent agent = new NodeAgent(settings, new KubernetesPodDirectory(client, node, 0), NetnsIptables.nsenter(),
        installer, Clock.systemUTC());
    AdminListeners admin;
    try {
      admin = AdminListeners.create(settings.adminListeners(), () -> client);
    } catch (IllegalArgumentException e) { // e.g. an unreadable --debug-token-file
      System.err.println("nodemesh node-agent: " + e.getMessage());
      agent.close();
      client.close();
      return 2;
    }
    agent.metrics().registerAdminRefusals(admin);
    AgentAdmin.register(admin.probe(), admin.debug(), agent, settings);
    admin.start();
    UninstallMode uninstallMode = settings.get(AgentSettings.CNI_UNINSTALL);
    SelfDaemonSet self = null;
    if (uninstallMode == UninstallMode.AUTO) {
      String namespace = settings.get(AgentSettings.SELF_NAMESPACE);
      String name = settings.get(AgentSettings.SELF_DAEMONSET);
      if (namespace.isEmpty() || name.isEmpty()) {
        log.warn("--self-namespace/--self-daemonset not set: cni-uninstall=auto cannot detect an uninstall, "
            + "the plugin stays installed when the agent stops");
      } else {
        self = new SelfDaemonSet(client, namespace, name);
      }
    }
    agent.start();
    log.info("node agent for node {} running; probes on port {}, debug on {}:{}", node, admin.probe().port(),
        admin.debug().host(), admin.debug().port());

    stop.await();
    boolean uninstall = uninstallMode == UninstallMode.ALWAYS || (self != null && self.goingAway());
    if (uninstall) {
      log.info("uninstalling nodemesh from node {}", node);
      agent.uninstall().get(2, TimeUnit.MINUTES);
    } else {
      log.info("stopping; nodemesh-cni stays installed and queues pod starts for the next agent");
    }
    if (self != null) {
      self.close();
    }
    agent.close();
    admin.close();
    client.close();
    return 0;
  }

  /** For {@code uninstall}: no API, no pods. */
  private static final class NoPods implements PodDirectory {
    @Override
    public void start(Listener listener) {}

    @Override
    public boolean synced() {
      return false;
    }

    @Override
    public Optional<PodInfo> byUid(String uid) {
      return Optional.empty();
    }

    @Override
    public Optional<PodInfo> lookup(String namespace, String name) {
      return Optional.empty();
    }

    @Override
    public Optional<NamespaceInfo> namespace(String name) {
      return Optional.empty();
    }

    @Override
    public void close() {}
  }
}
