package io.nodemesh.common;

import io.nodemesh.flags.Configuration;
import io.nodemesh.flags.Flag;
import io.nodemesh.http.AdminListeners;
import io.nodemesh.http.AdminServer;
import io.nodemesh.http.DebugAuthMode;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NetnsMode;
import io.nodemesh.model.TrafficRedirect;
import java.time.Duration;

/**
 * The knobs the control plane and the node agent both have, declared once: the admin and debug ports' access
 * and limits, which pods are meshed and where their network namespaces are, the redirect's port and mark, the
 * log level. {@code Settings} and {@code AgentSettings} list them among their own.
 */
public final class SharedFlags {

  private SharedFlags() {}

  public static final Flag<String> DEBUG_ADDRESS =
      Flag.text("debug-address", "127.0.0.1",
          "address the debug port binds: loopback is reached with kubectl port-forward; any other address needs"
              + " --debug-auth");
  public static final Flag<DebugAuthMode> DEBUG_AUTH =
      Flag.choice("debug-auth", DebugAuthMode.NONE, DebugAuthMode.class,
          "how debug requests authenticate: none (loopback only), token-review (a Kubernetes bearer token: TokenReview,"
              + " then a SubjectAccessReview for get on the non-resource URL /debug/nodemesh), token-file (a token"
              + " listed in --debug-token-file)");
  public static final Flag<String> DEBUG_TOKEN_FILE =
      Flag.text("debug-token-file", "",
          "--debug-auth=token-file: file of static bearer tokens, one per line, at least 16 characters each; read"
              + " again when it changes");
  public static final Flag<Duration> ADMIN_READ_TIMEOUT =
      Flag.duration("admin-read-timeout", "10s", Duration.ofMillis(100),
          "admin and debug ports: a request must arrive complete within this (the connection is closed otherwise),"
              + " and a connection without traffic for twice this long is closed");
  public static final Flag<Integer> ADMIN_MAX_CONNECTIONS =
      Flag.integer("admin-max-connections", 256, 1, 65535,
          "open connections allowed on each of the admin and debug ports; more are closed at once");
  public static final Flag<Integer> ADMIN_MAX_CONNECTIONS_PER_ADDRESS =
      Flag.integer("admin-max-connections-per-address", 32, 1, 65535,
          "open connections allowed from one client IP address on each of the admin and debug ports");
  public static final Flag<Boolean> MESH_ALL_NAMESPACES =
      Flag.bool("mesh-all-namespaces", false, "mesh every pod, not only those opted in with nodemesh.io/mesh=enabled");
  public static final Flag<NetnsMode> NETNS_MODE =
      Flag.choice("netns-mode", NetnsMode.TEMPLATE, NetnsMode.class,
          "where a pod's network namespace path comes from: the template, or the nodemesh.io/netns annotation");
  public static final Flag<String> NETNS_TEMPLATE =
      Flag.text("netns-template", MeshOptions.DEFAULT_NETNS_TEMPLATE,
          "netns path template ({podUid} is replaced); the node's CNI plugin pins namespaces there");
  public static final Flag<String> NETNS_ALLOWED_PREFIX =
      Flag.text("netns-allowed-prefix", MeshOptions.DEFAULT_NETNS_ALLOWED_PREFIX,
          "annotation mode: only paths under this directory are accepted");
  public static final Flag<Integer> SO_MARK =
      Flag.integer("so-mark", TrafficRedirect.DEFAULT_SO_MARK, 0, Integer.MAX_VALUE,
          "SO_MARK on Envoy's upstream sockets, so the pod's redirect rule skips them");
  public static final Flag<Integer> CAPTURE_PORT =
      Flag.integer("capture-port", TrafficRedirect.DEFAULT_CAPTURE_PORT, 1, 65535,
          "port of the per-pod outbound listener that redirected traffic lands on");
  public static final Flag<LogLevel> LOG_LEVEL =
      Flag.choice("log-level", LogLevel.INFO, LogLevel.class, "root log level (push summaries are at debug)");

  /** Which pods are meshed and where their namespaces are, from these flags: both processes decide alike. */
  public static MeshOptions meshOptions(Configuration config) {
    try {
      return new MeshOptions(config.get(MESH_ALL_NAMESPACES), config.get(NETNS_MODE), config.get(NETNS_TEMPLATE),
          config.get(NETNS_ALLOWED_PREFIX));
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException("invalid netns settings: " + e.getMessage());
    }
  }

  /**
   * The probe and debug listeners of a process whose own flags give the probe address and the two ports,
   * checked (a debug port off loopback needs --debug-auth).
   */
  public static AdminListeners.Config adminListeners(Configuration config, String adminAddress, int adminPort,
      int debugPort) {
    AdminListeners.Config listeners = new AdminListeners.Config(adminAddress, adminPort, config.get(DEBUG_ADDRESS),
        debugPort, config.get(DEBUG_AUTH), config.get(DEBUG_TOKEN_FILE),
        new AdminServer.Limits(config.get(ADMIN_READ_TIMEOUT), config.get(ADMIN_MAX_CONNECTIONS),
            config.get(ADMIN_MAX_CONNECTIONS_PER_ADDRESS)));
    try {
      listeners.check();
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException(e.getMessage());
    }
    return listeners;
  }
}
