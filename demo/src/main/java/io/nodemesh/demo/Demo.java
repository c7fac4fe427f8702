package io.nodemesh.demo;

import io.nodemesh.app.Application;
import io.nodemesh.app.ControlPlane;
import io.nodemesh.app.Settings;
import io.nodemesh.flags.Flag;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo: the production control plane against an embedded Kubernetes API ({@link DemoCluster}, seeded, with
 * gentle churn) and one simulated Envoy per demo node ({@link DemoEnvoys}) on the real xDS port.
 */
public final class Demo implements Application {

  private static final Logger log = LoggerFactory.getLogger(Demo.class);
  /**
   * Where the demo's defaults differ from the control plane's: its simulated Envoys and the newcomer's gRPC
   * clients connect over loopback without tokens. A value set explicitly always wins.
   */
  public static final Map<Flag<?>, String> DEFAULTS =
      Map.of(Settings.TRUST_LOOPBACK_CLIENTS, "true", Settings.XDS_ALLOW_ANONYMOUS_CLIENTS, "true");
  /** How {@code /debug/config} names a value that is the demo's default. */
  public static final String DEFAULTS_SOURCE = "default in the demo";

  private final DemoCluster cluster;
  private final ControlPlane plane;
  private final AtomicReference<DemoEnvoys> envoys = new AtomicReference<>();

  private Demo(DemoCluster cluster, ControlPlane plane) {
    this.cluster = cluster;
    this.plane = plane;
  }

  /** The settings of {@code args} and {@code env} over the demo's defaults. */
  public static Settings settings(String[] args, Map<String, String> env) {
    return Settings.parse(args, env, DEFAULTS, DEFAULTS_SOURCE);
  }

  /** Starts the embedded API, the control plane on it, and the demo Envoys once xDS listens. */
  public static Demo start(Settings settings) throws Exception {
    DemoCluster cluster = DemoCluster.start();
    ControlPlane plane;
    try {
      plane = ControlPlane.start(settings, cluster.client());
    } catch (Exception e) {
      cluster.close();
      throw e;
    }
    Demo demo = new Demo(cluster, plane);
    plane.xdsStarted().thenAccept(port -> {
      if (settings.xdsTls()) {
        log.info("demo Envoys speak plaintext: not started because the xDS port serves TLS");
      } else {
        demo.envoys.set(new DemoEnvoys(port, DemoCluster.NODES));
      }
    });
    return demo;
  }

  /** The embedded Kubernetes API. */
  public DemoCluster cluster() {
    return cluster;
  }

  /** The control plane serving the demo. */
  public ControlPlane plane() {
    return plane;
  }

  @Override
  public CompletableFuture<Integer> xdsStarted() {
    return plane.xdsStarted();
  }

  /** Stops the churn first (no writes into closing watches), then the Envoys, the control plane and the API. */
  @Override
  public void close() {
    cluster.stopWriting();
    DemoEnvoys running = envoys.getAndSet(null);
    if (running != null) {
      running.close();
    }
    try {
      plane.close();
    } finally {
      cluster.close();
    }
  }
}
