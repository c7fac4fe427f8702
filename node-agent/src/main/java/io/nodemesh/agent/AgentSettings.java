package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import com.google.common.net.HostAndPort;
import com.google.common.net.InetAddresses;
import io.nodemesh.http.AdminListeners;
import io.nodemesh.common.SharedFlags;
import io.nodemesh.flags.Configuration;
import io.nodemesh.flags.Flag;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NetnsPaths;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every configuration knob of the node agent, declared once. The mesh selection, netns template, SO_MARK and
 * capture port are the {@link SharedFlags} the control plane declares too: the agent must decide exactly as the
 * control plane does, so the chart passes both the same values.
 */
public final class AgentSettings implements Configuration {

  public static final Flag<String> NODE_NAME =
      Flag.text("node-name", "", "the Kubernetes node this agent serves (required; the chart sets it from spec.nodeName)");
  public static final Flag<Integer> ADMIN_PORT =
      Flag.integer("admin-port", 15016, 0, 65535, "HTTP port of /healthz, /readyz and /metrics only; 0 picks a free port");
  public static final Flag<String> ADMIN_ADDRESS =
      Flag.text("admin-address", "0.0.0.0",
          "address the admin (probe) port binds; the kubelet probes it at the node's address (host network)");
  public static final Flag<Integer> DEBUG_PORT =
      Flag.integer("debug-port", 15017, 0, 65535,
          "HTTP port of /debug (pinned pods and their namespace paths, flags); binds --debug-address; 0 picks a free port");
  public static final Flag<String> CNI_SPOOL_DIR =
      Flag.text("cni-spool-dir", "/var/run/nodemesh/cni", "host directory where the CNI plugin leaves requests and reads answers");
  public static final Flag<String> CNI_BIN_DIR =
      Flag.text("cni-bin-dir", "/opt/cni/bin", "where the plugin executable is installed (the node's CNI bin directory as mounted)");
  public static final Flag<String> CNI_CONF_DIR =
      Flag.text("cni-conf-dir", "/etc/cni/net.d", "the node's CNI configuration directory as mounted; the plugin is chained into its first conflist");
  public static final Flag<Boolean> CNI_INSTALL =
      Flag.bool("cni-install", true, "keep the plugin chained into the node's conflist (re-added when the main CNI rewrites it)");
  public static final Flag<FailPolicy> CNI_FAIL_POLICY =
      Flag.choice("cni-fail-policy", FailPolicy.CLOSED, FailPolicy.class,
          "when the agent does not answer in time: closed fails the pod's start, open lets it start unredirected until reconciled");
  public static final Flag<Duration> CNI_TIMEOUT =
      Flag.duration("cni-timeout", "30s", Duration.ofSeconds(1), "how long the plugin waits for the agent on ADD and CHECK (whole seconds)");
  public static final Flag<String> CNI_EXCLUDE_NAMESPACES =
      Flag.text("cni-exclude-namespaces", "kube-system", "comma list of namespaces the plugin passes through without asking the agent");
  public static final Flag<Duration> CNI_CONF_WAIT =
      Flag.duration("cni-conf-wait", "0s", Duration.ZERO, "install-cni: how long to wait for the main CNI's configuration (0 waits forever)");
  public static final Flag<Duration> RESYNC_INTERVAL =
      Flag.duration("resync-interval", "60s", Duration.ofSeconds(1), "how often every pin's rules and the CNI configuration are verified and repaired");
  public static final Flag<Duration> GC_GRACE =
      Flag.duration("gc-grace", "60s", Duration.ZERO, "how long a pin may exist without its pod in the API before it is removed");
  public static final Flag<UninstallMode> CNI_UNINSTALL =
      Flag.choice("cni-uninstall", UninstallMode.AUTO, UninstallMode.class,
          "on stop, remove plugin, rules and pins: auto = only when the agent's DaemonSet is gone or being deleted");
  public static final Flag<String> SELF_NAMESPACE =
      Flag.text("self-namespace", "", "namespace of the agent's DaemonSet (for cni-uninstall=auto)");
  public static final Flag<String> SELF_DAEMONSET =
      Flag.text("self-daemonset", "", "name of the agent's DaemonSet (for cni-uninstall=auto)");

  public static final Flag<String> CONTROL_PLANE_ADDRESS =
      Flag.text("control-plane-address", "",
          "host:port of the control plane's xDS port, a name that resolves to every replica (the chart's headless"
              + " Service): pins are reported there and ADD waits for the node's Envoys to hold the pod's listener;"
              + " empty: the redirect is installed without waiting");
  public static final Flag<Duration> LISTENER_WAIT =
      Flag.duration("listener-wait", "5s", Duration.ZERO,
          "how long ADD waits for every Envoy of the node to hold the pod's listener (then --cni-fail-policy applies),"
              + " and DEL for its removal (then the pin is released anyway); must be below --cni-timeout");
  public static final Flag<String> CONTROL_PLANE_TOKEN_FILE =
      Flag.text("control-plane-token-file", "",
          "projected service account token sent as a bearer token with pin reports (control plane --node-auth with"
              + " tokens); empty: the node's address authorizes the agent (host network)");
  public static final Flag<String> CONTROL_PLANE_CA_FILE =
      Flag.text("control-plane-ca-file", "",
          "PEM CA bundle: report pins over TLS and verify the control plane's certificate against it (its xDS port"
              + " serves TLS); empty: plaintext");
  public static final Flag<String> CONTROL_PLANE_CERT_FILE =
      Flag.text("control-plane-cert-file", "",
          "with --control-plane-ca-file: PEM client certificate for a control plane that requires one (mutual TLS);"
              + " with --control-plane-key-file");
  public static final Flag<String> CONTROL_PLANE_KEY_FILE =
      Flag.text("control-plane-key-file", "", "the private key of --control-plane-cert-file (PEM)");
  public static final Flag<String> CONTROL_PLANE_SERVER_NAME =
      Flag.text("control-plane-server-name", "",
          "with --control-plane-ca-file: the name the control plane's certificate is checked for (the replicas are"
              + " dialled by IP); empty: the host of --control-plane-address");
  public static final Flag<String> CONTROL_PLANE_SOURCE_ADDRESS =
      Flag.text("control-plane-source-address", "",
          "local IP pin reports leave from (the chart sets the node's IP, status.hostIP): with --node-auth=peer the"
              + " control plane recognises the node by it, also when the replica runs on this node and the route to"
              + " it would pick a bridge address; empty: the kernel's choice");
  public static final Flag<String> POD_NAME =
      Flag.text("pod-name", "",
          "this agent's pod name (the chart sets it from metadata.name): its identity in pin reports, which a"
              + " bearer token's pod-name claim must match; empty: node-agent-<node>");
  public static final Flag<Duration> PIN_REPORT_INTERVAL =
      Flag.duration("pin-report-interval", "10s", Duration.ofSeconds(1),
          "how often the full set of pins is reported to every control plane replica when no pod waits (a"
              + " restarted replica learns them within this time)");

  public static final ImmutableList<Flag<?>> ALL = ImmutableList.of(
      NODE_NAME, ADMIN_PORT, ADMIN_ADDRESS, DEBUG_PORT, SharedFlags.DEBUG_ADDRESS, SharedFlags.DEBUG_AUTH,
      SharedFlags.DEBUG_TOKEN_FILE, SharedFlags.ADMIN_READ_TIMEOUT, SharedFlags.ADMIN_MAX_CONNECTIONS,
      SharedFlags.ADMIN_MAX_CONNECTIONS_PER_ADDRESS,
      SharedFlags.MESH_ALL_NAMESPACES, SharedFlags.NETNS_MODE, SharedFlags.NETNS_TEMPLATE, SharedFlags.NETNS_ALLOWED_PREFIX,
      SharedFlags.SO_MARK, SharedFlags.CAPTURE_PORT,
      CNI_SPOOL_DIR, CNI_BIN_DIR, CNI_CONF_DIR, CNI_INSTALL, CNI_FAIL_POLICY, CNI_TIMEOUT, CNI_EXCLUDE_NAMESPACES,
      CNI_CONF_WAIT, RESYNC_INTERVAL, GC_GRACE, CNI_UNINSTALL, SELF_NAMESPACE, SELF_DAEMONSET,
      CONTROL_PLANE_ADDRESS, LISTENER_WAIT, CONTROL_PLANE_TOKEN_FILE, CONTROL_PLANE_CA_FILE,
      CONTROL_PLANE_CERT_FILE, CONTROL_PLANE_KEY_FILE,
      CONTROL_PLANE_SERVER_NAME, CONTROL_PLANE_SOURCE_ADDRESS, POD_NAME, PIN_REPORT_INTERVAL,
      SharedFlags.LOG_LEVEL);

  private final Flag.Resolved resolved;

  private AgentSettings(Flag.Resolved resolved) {
    this.resolved = resolved;
  }

  /** Defaults plus the given overrides (flag name -> value), e.g. for tests. */
  public static AgentSettings of(Map<String, String> values) {
    return parse(values.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue()).toArray(String[]::new),
        Map.of());
  }

  /**
   * Resolves every flag (arguments, then {@code NODEMESH_*} environment, then defaults) and checks the values
   * and their combinations.
   *
   * @throws Flag.UsageException for unknown flags and invalid values
   */
  public static AgentSettings parse(String[] args, Map<String, String> env) {
    AgentSettings settings = new AgentSettings(Flag.resolve(ALL, args, env));
    ALL.forEach(settings::get);
    settings.meshOptions();
    settings.pinDir();
    for (Flag<String> dir : ImmutableList.of(CNI_SPOOL_DIR, CNI_BIN_DIR, CNI_CONF_DIR)) {
      if (!settings.get(dir).startsWith("/")) {
        throw new Flag.UsageException("--" + dir.name() + " must be an absolute path: " + settings.get(dir));
      }
    }
    settings.adminListeners();
    if (settings.get(SharedFlags.SO_MARK) == 0) {
      throw new Flag.UsageException("--so-mark must not be 0 for the node agent: '--mark 0' matches every unmarked"
          + " packet, so nothing would be redirected");
    }
    if (!settings.get(CNI_EXCLUDE_NAMESPACES).matches("[a-z0-9.,-]*")) {
      throw new Flag.UsageException("--cni-exclude-namespaces must be a comma list of namespace names");
    }
    if (settings.get(CNI_TIMEOUT).toSeconds() > 600 || settings.get(CNI_TIMEOUT).toMillis() % 1000 != 0) {
      throw new Flag.UsageException("--cni-timeout must be whole seconds, at most 600s");
    }
    if (settings.get(LISTENER_WAIT).compareTo(settings.get(CNI_TIMEOUT).minusSeconds(1)) > 0) {
      throw new Flag.UsageException("--listener-wait must be at least 1s below --cni-timeout ("
          + settings.text(CNI_TIMEOUT) + "): the plugin must still be waiting when the agent answers");
    }
    settings.controlPlaneAddress();
    if (settings.get(CONTROL_PLANE_CERT_FILE).isEmpty() != settings.get(CONTROL_PLANE_KEY_FILE).isEmpty()
        || (!settings.get(CONTROL_PLANE_CERT_FILE).isEmpty() && settings.get(CONTROL_PLANE_CA_FILE).isEmpty())) {
      throw new Flag.UsageException("--control-plane-cert-file and --control-plane-key-file go together, and with"
          + " --control-plane-ca-file");
    }
    String source = settings.get(CONTROL_PLANE_SOURCE_ADDRESS);
    if (!source.isEmpty() && !InetAddresses.isInetAddress(source)) {
      throw new Flag.UsageException("--control-plane-source-address must be an IP address, got " + source);
    }
    return settings;
  }

  /** Host and port of {@link #CONTROL_PLANE_ADDRESS}, or empty when pins are not reported. */
  public Optional<HostAndPort> controlPlaneAddress() {
    String text = get(CONTROL_PLANE_ADDRESS);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      HostAndPort address = HostAndPort.fromString(text);
      if (!address.hasPort() || address.getHost().isEmpty()) {
        throw new IllegalArgumentException("needs host:port");
      }
      return Optional.of(address);
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException("--control-plane-address must be host:port, got " + text);
    }
  }

  @Override
  public List<Flag<?>> flags() {
    return ALL;
  }

  /** The text value in force for a flag, as given. */
  @Override
  public String text(Flag<?> flag) {
    return resolved.values().get(flag.name());
  }

  /** Where the value came from: "flag", "env NODEMESH_...", or "default". */
  @Override
  public String source(Flag<?> flag) {
    return resolved.sources().get(flag.name());
  }

  /**
   * The probe and debug listeners' settings, checked: the agent runs in the node's network, so a debug port off
   * loopback would be open to every pod that can reach the node; it needs --debug-auth.
   */
  public AdminListeners.Config adminListeners() {
    return SharedFlags.adminListeners(this, get(ADMIN_ADDRESS), get(ADMIN_PORT), get(DEBUG_PORT));
  }

  /** The mesh options, built from the same flags as the control plane's. */
  public MeshOptions meshOptions() {
    return SharedFlags.meshOptions(this);
  }

  /**
   * The host directory of the pins: the netns template must be {@code <dir>/{podUid}}, since the plugin names a
   * pin after the pod UID and nothing else.
   */
  public Path pinDir() {
    String template = get(SharedFlags.NETNS_TEMPLATE);
    String suffix = "/" + NetnsPaths.POD_UID_PLACEHOLDER;
    if (!template.endsWith(suffix) || template.length() == suffix.length()) {
      throw new Flag.UsageException("--netns-template must be <absolute directory>/" + NetnsPaths.POD_UID_PLACEHOLDER
          + " for the node agent, got " + template);
    }
    return Path.of(template.substring(0, template.length() - suffix.length()));
  }

  /** The text of {@code --help}. */
  public static String help() {
    StringBuilder help = new StringBuilder(
        "Usage: java -jar nodemesh-node-agent.jar [install-cni | uninstall] [--flag=value ...]\n"
            + "       (in the image: nodemesh node-agent [install-cni | uninstall] [--flag=value ...])\n\n"
            + "The nodemesh node agent: serves the chained CNI plugin (pins pod network namespaces, installs the\n"
            + "outbound redirect inside them), reconciles and garbage-collects pins. install-cni installs the plugin\n"
            + "and chains it into the node's conflist, then exits (the chart's init container); uninstall removes\n"
            + "plugin, rules and pins, then exits.\n\nFlags:\n");
    return help.append(Flag.describe(ALL)).toString();
  }
}
