package io.nodemesh.http;

import com.google.common.net.InetAddresses;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The two admin listeners of a process (control plane or node agent): the probe listener, on all addresses, serves
 * only {@code /healthz}, {@code /readyz} and {@code /metrics} for the kubelet and Prometheus; the debug listener
 * serves every endpoint, on loopback by default (reached with {@code kubectl port-forward}), and anywhere else only
 * behind a bearer token. Each has its own event loop, handler threads and connection limits, so nothing done to one
 * delays the other.
 */
public final class AdminListeners implements AutoCloseable {

  /** The flags' values, e.g. from the control plane's or the agent's settings. */
  public record Config(String probeAddress, int probePort, String debugAddress, int debugPort, DebugAuthMode debugAuth,
      String debugTokenFile, AdminServer.Limits limits) {

    /**
     * Checks the combination: a debug listener off loopback needs authentication, token-file needs its file.
     *
     * @throws IllegalArgumentException with a message for the operator naming the flags
     */
    public void check() {
      if (probePort != 0 && probePort == debugPort) {
        throw new IllegalArgumentException("--admin-port and --debug-port must differ (both " + probePort + ")");
      }
      if (!isLoopback(debugAddress) && debugAuth == DebugAuthMode.NONE) {
        throw new IllegalArgumentException("--debug-address=" + debugAddress + " is not a loopback address: the debug"
            + " endpoints show every node's configuration and pod's network namespace, so set --debug-auth=token-review"
            + " or --debug-auth=token-file with --debug-token-file, or keep --debug-address=127.0.0.1 and use kubectl"
            + " port-forward");
      }
      if (debugAuth == DebugAuthMode.TOKEN_FILE && debugTokenFile.isEmpty()) {
        throw new IllegalArgumentException("--debug-auth=token-file needs --debug-token-file");
      }
      if (debugAuth != DebugAuthMode.TOKEN_FILE && !debugTokenFile.isEmpty()) {
        throw new IllegalArgumentException("--debug-token-file is only read with --debug-auth=token-file");
      }
    }
  }

  private final AdminServer probe;
  private final AdminServer debug;
  private final ThreadPoolExecutor reviews;

  private AdminListeners(AdminServer probe, AdminServer debug, ThreadPoolExecutor reviews) {
    this.probe = probe;
    this.debug = debug;
    this.reviews = reviews;
  }

  /**
   * Both listeners, not yet started. {@code client} is asked for only with {@code --debug-auth=token-review}.
   *
   * @throws IllegalArgumentException for an invalid combination or an unusable token file
   */
  public static AdminListeners create(Config config, Supplier<KubernetesClient> client) {
    config.check();
    ThreadPoolExecutor reviews = null;
    DebugAccess access = switch (config.debugAuth()) {
      case NONE -> DebugAccess.open();
      case TOKEN_FILE -> new TokenFileAccess(Path.of(config.debugTokenFile()));
      case TOKEN_REVIEW -> {
        // bounded: a flood of new tokens gets 503s, not an unbounded queue of API calls
        reviews = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(64), runnable -> {
          Thread thread = new Thread(runnable, "nodemesh-debug-auth");
          thread.setDaemon(true);
          return thread;
        });
        yield new KubernetesDebugAccess(KubernetesDebugAccess.Reviews.of(client.get()), reviews, Clock.systemUTC());
      }
    };
    AdminServer probe = new AdminServer("probe", config.probeAddress(), config.probePort(), config.limits(),
        DebugAccess.open());
    AdminServer debug = new AdminServer("debug", config.debugAddress(), config.debugPort(), config.limits(), access);
    return new AdminListeners(probe, debug, reviews);
  }

  /** {@code /healthz}, {@code /readyz}, {@code /metrics}: open, on all addresses. */
  public AdminServer probe() {
    return probe;
  }

  /** Every endpoint, behind the debug authentication. */
  public AdminServer debug() {
    return debug;
  }

  /** Opens both ports; a failure names the flags that choose the port. */
  public void start() throws IOException {
    try {
      probe.start();
    } catch (IOException e) {
      throw new IOException(e.getMessage() + " (--admin-port)", e);
    }
    try {
      debug.start();
    } catch (IOException e) {
      throw new IOException(e.getMessage() + " (--debug-port, --debug-address)", e);
    }
  }

  /**
   * A counter of both listeners' refusals (labels {@code port}: probe or debug, {@code reason}: see
   * {@link AdminServer.Refusal#label()}), read at scrape time.
   */
  public CounterWithCallback refusalCounter(String metricName) {
    return CounterWithCallback.builder()
        .name(metricName)
        .help("Admin requests and connections refused, by port (probe, debug) and reason")
        .labelNames("port", "reason")
        .callback(cb -> {
          for (AdminServer server : List.of(probe, debug)) {
            server.refusals().forEach((reason, count) -> cb.call(count, server.name(), reason));
          }
        })
        .build();
  }

  /** Whether {@code address} (an IP literal or a host name) is a loopback address. */
  static boolean isLoopback(String address) {
    try {
      String literal = address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1)
          : address;
      InetAddress resolved = InetAddresses.isInetAddress(literal) ? InetAddresses.forString(literal)
          : InetAddress.getByName(literal);
      return resolved.isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("--debug-address=" + address + " is neither an IP address nor a known host name");
    }
  }

  @Override
  public void close() {
    debug.close();
    probe.close();
    if (reviews != null) {
      reviews.shutdownNow();
    }
  }
}
