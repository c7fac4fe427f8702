package io.nodemesh.app;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.nodemesh.admin.AdminEndpoints;
import io.nodemesh.admin.AdminServer;
import io.nodemesh.admin.ControlPlaneMetrics;
import io.nodemesh.admin.ConvergenceTracker;
import io.nodemesh.k8s.ClusterStateStore;
import io.nodemesh.k8s.Debouncer;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.XdsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running control plane: informers -> store -> debouncer -> translator -> resource store -> ADS server,
 * plus the admin endpoint. Start order: admin (healthz at once, readyz 503), informers, and only once the first
 * complete state is translated, the xDS port — so no Envoy ever sees a partial snapshot. Close order: stop
 * accepting streams, let in-flight responses finish, then stop translation and informers.
 */
public final class ControlPlane implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);
  private static final long GRACE_SECONDS = 5;

  private final Settings settings;
  private final DemoCluster demo;
  private final KubernetesClient client;
  private final ClusterStateStore stateStore;
  private final Debouncer debouncer;
  private final ResourceStore resourceStore = new ResourceStore();
  private final ControlPlaneMetrics metrics;
  private final ConvergenceTracker convergence;
  private final XdsServer xds;
  private final TranslationPipeline pipeline;
  private final AdminServer admin;
  private final AtomicReference<KubernetesWatchers> watchers = new AtomicReference<>();
  private final AtomicReference<Server> grpc = new AtomicReference<>();
  private final AtomicReference<DemoEnvoys> demoEnvoys = new AtomicReference<>();
  private final CompletableFuture<Void> firstTranslation = new CompletableFuture<>();
  private final CompletableFuture<Integer> xdsListening = new CompletableFuture<>();

  private ControlPlane(Settings settings, DemoCluster demo, KubernetesClient client) throws IOException {
    this.settings = settings;
    this.demo = demo;
    this.client = client;
    this.stateStore = new ClusterStateStore(settings.meshOptions());
    this.debouncer = Debouncer.create(settings.watcherOptions());
    AtomicReference<ControlPlaneMetrics> metricsRef = new AtomicReference<>();
    this.convergence = new ConvergenceTracker((type, seconds) -> metricsRef.get().observeConvergence(type, seconds));
    this.xds = XdsServer.create(resourceStore, convergence, Clock.systemUTC());
    this.pipeline = new TranslationPipeline(resourceStore, settings.translatorOptions(), outcome -> {
      convergence.generationApplied(outcome.generation(), outcome.earliestEventNanos());
      metricsRef.get().observeTranslation(outcome.translateNanos() / 1e9, outcome.services(), outcome.nodes());
      firstTranslation.complete(null);
    });
    this.metrics = new ControlPlaneMetrics(xds, watchers::get, pipeline::queueDepth);
    metricsRef.set(metrics);
    this.admin = new AdminServer("0.0.0.0", settings.get(Settings.ADMIN_PORT));
    new AdminEndpoints(settings, watchers::get, pipeline, xds, () -> grpc.get() != null, convergence, metrics)
        .registerOn(admin);
  }

  /** Starts everything; returns once the admin port is up (xDS follows when the informers have synced). */
  public static ControlPlane start(Settings settings) throws Exception {
    DemoCluster demo = settings.get(Settings.DEMO) ? DemoCluster.start() : null;
    // fabric8 auto-configuration: in-cluster service account, KUBECONFIG, KUBERNETES_MASTER
    KubernetesClient client = demo != null ? demo.client() : new KubernetesClientBuilder().build();
    ControlPlane plane = new ControlPlane(settings, demo, client);
    plane.startAll();
    return plane;
  }

  private void startAll() {
    admin.start();
    stateStore.subscribe(debouncer);
    debouncer.subscribe(pipeline);
    log.info("watching Kubernetes at {}", client.getMasterUrl());
    watchers.set(KubernetesWatchers.start(client, stateStore, settings.watcherOptions()));
    firstTranslation.thenRunAsync(this::startXds).exceptionally(e -> {
      log.error("could not start the xDS server", e);
      return null;
    });
  }

  private void startXds() {
    try {
      Server server = NettyServerBuilder
          .forAddress(new InetSocketAddress("0.0.0.0", settings.get(Settings.XDS_PORT)))
          .addService(xds.service())
          // node Envoys ping every 30 s (see the chart); grpc-java's default would answer with GOAWAY
          .permitKeepAliveTime(10, TimeUnit.SECONDS)
          .permitKeepAliveWithoutCalls(true)
          .maxInboundMessageSize(settings.get(Settings.MAX_MESSAGE_BYTES))
          .build()
          .start();
      grpc.set(server);
      log.info("xDS (ADS, SotW and Delta) listening on port {}", server.getPort());
      if (demo != null) {
        demoEnvoys.set(new DemoEnvoys(server.getPort(), DemoCluster.NODES));
      }
      xdsListening.complete(server.getPort());
    } catch (IOException e) {
      log.error("xDS port {} could not be opened", settings.get(Settings.XDS_PORT), e);
      xdsListening.completeExceptionally(e);
    }
  }

  /** Completes with the xDS port once the server is listening. */
  public CompletableFuture<Integer> xdsStarted() {
    return xdsListening;
  }

  public int adminPort() {
    return admin.port();
  }

  /** The xDS port in use, or -1 before it is open. */
  public int xdsPort() {
    Server server = grpc.get();
    return server == null ? -1 : server.getPort();
  }

  public DemoCluster demo() {
    return demo;
  }

  @Override
  public void close() {
    log.info("shutting down: no new xDS streams, finishing in-flight responses (up to {} s)", GRACE_SECONDS);
    DemoEnvoys envoys = demoEnvoys.get();
    if (envoys != null) {
      envoys.close();
    }
    Server server = grpc.get();
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        server.shutdownNow();
      }
    }
    xds.close();
    KubernetesWatchers current = watchers.get();
    if (current != null) {
      current.close();
    }
    debouncer.close();
    pipeline.close();
    stateStore.close();
    admin.close();
    if (demo != null) {
      demo.close();
    } else {
      client.close();
    }
    log.info("shut down");
  }
}
