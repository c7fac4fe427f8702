package io.nodemesh.app;

import com.google.common.collect.ImmutableList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.nodemesh.admin.AdminEndpoints;
import io.nodemesh.http.AdminListeners;
import io.nodemesh.admin.ControlPlaneMetrics;
import io.nodemesh.admin.ConvergenceTracker;
import io.nodemesh.api.agent.v1.Pin;
import io.nodemesh.flags.Flag;
import io.nodemesh.k8s.ClusterStateStore;
import io.nodemesh.k8s.Debouncer;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.k8s.RouteStatusWriter;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.NodePin;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.pipeline.TranslationPipeline;
import io.nodemesh.security.CachingTokenReviewer;
import io.nodemesh.security.KubernetesTokenReviewer;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.security.NodeAuthorizer;
import io.nodemesh.security.PeerBinding;
import io.nodemesh.security.QuarantineEvents;
import io.nodemesh.security.TokenReviewer;
import io.nodemesh.security.XdsTls;
import io.nodemesh.translate.PortProtocol;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.XdsEventListener;
import io.nodemesh.xds.XdsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running control plane: informers -> store -> debouncer -> translator -> resource store -> ADS server,
 * plus the probe and debug ports. Start order: those ports (healthz at once, readyz 503), informers, and only once the first
 * complete state is translated, the xDS port — so no Envoy ever sees a partial snapshot. Close order: stop
 * accepting streams, let in-flight responses finish, then stop translation and informers.
 */
public final class ControlPlane implements Application {

  private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);
  private static final long GRACE_SECONDS = 5;
  /** Bounded TokenReview cache: entries, longest time a verdict is trusted, and how long a refusal is remembered. */
  private static final int TOKEN_CACHE_ENTRIES = 10_000;
  private static final Duration TOKEN_CACHE_MAX_TTL = Duration.ofMinutes(10);
  private static final Duration TOKEN_CACHE_NEGATIVE_TTL = Duration.ofSeconds(10);
  /** TokenReview calls in parallel: the API server answers in milliseconds; cached verdicts cover reconnects. */
  private static final int TOKEN_REVIEW_THREADS = 2;
  /** Largest request metadata (headers) accepted on the xDS port: a bearer token and gRPC's own headers. */
  private static final int XDS_MAX_METADATA_BYTES = 32 * 1024;

  private final Settings settings;
  private final KubernetesClient client;
  /** Whether closing the control plane closes the client: not when the caller brought it (and closes it). */
  private final boolean ownsClient;
  private final ClusterStateStore stateStore;
  private final Debouncer debouncer;
  private final ResourceStore resourceStore = new ResourceStore();
  private final ControlPlaneMetrics metrics;
  private final ConvergenceTracker convergence;
  private final XdsServer xds;
  private final TranslationPipeline pipeline;
  private final AdminListeners admin;
  private final AtomicReference<KubernetesWatchers> watchers = new AtomicReference<>();
  /** Writes route statuses while this replica holds the Lease; null with --route-status=false. */
  private final AtomicReference<RouteStatusWriter> routeStatus = new AtomicReference<>();
  private final AtomicReference<Server> grpc = new AtomicReference<>();
  private final NodeAuthorizer authorizer;
  private final QuarantineEvents events;
  private final ExecutorService tokenReviews;
  private final AtomicReference<XdsTls> tls = new AtomicReference<>();
  private final CompletableFuture<Void> firstTranslation = new CompletableFuture<>();
  private final CompletableFuture<Integer> xdsListening = new CompletableFuture<>();

  private ControlPlane(Settings settings, KubernetesClient client, boolean ownsClient) throws IOException {
    this.settings = settings;
    this.client = client;
    this.ownsClient = ownsClient;
    this.stateStore = new ClusterStateStore(settings.meshOptions());
    this.debouncer = Debouncer.create(settings.watcherOptions());
    AtomicReference<ControlPlaneMetrics> metricsRef = new AtomicReference<>();
    this.convergence = new ConvergenceTracker((type, seconds) -> metricsRef.get().observeConvergence(type, seconds));
    AtomicReference<TranslationPipeline> pipelineRef = new AtomicReference<>();
    Supplier<ClusterState> model = () -> pipelineRef.get().view().state();
    NodeAuthMode mode = settings.get(Settings.NODE_AUTH);
    // a bounded queue: a flood of new tokens ends streams with UNAVAILABLE instead of queueing without end
    this.tokenReviews = mode.usesToken()
        ? new ThreadPoolExecutor(TOKEN_REVIEW_THREADS, TOKEN_REVIEW_THREADS, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(settings.get(Settings.NODE_AUTH_TOKEN_REVIEW_QUEUE)), daemon("nodemesh-token-review"))
        : null;
    TokenReviewer reviewer = mode.usesToken()
        ? new CachingTokenReviewer(
            new KubernetesTokenReviewer(client, settings.get(Settings.NODE_AUTH_TOKEN_AUDIENCE), tokenReviews),
            Clock.systemUTC(), TOKEN_CACHE_ENTRIES, TOKEN_CACHE_MAX_TTL, TOKEN_CACHE_NEGATIVE_TTL,
            settings.get(Settings.NODE_AUTH_TOKEN_REVIEW_RATE))
        : null;
    this.authorizer = new NodeAuthorizer(mode,
        new PeerBinding(settings.get(Settings.TRUST_LOOPBACK_CLIENTS), settings.get(Settings.ENVOY_NAMESPACE)),
        reviewer, model, settings.get(Settings.XDS_ALLOW_ANONYMOUS_CLIENTS),
        settings.placementWait());
    this.events = new QuarantineEvents(client, model, Clock.systemUTC(),
        System.getenv().getOrDefault("HOSTNAME", ""));
    this.xds = XdsServer.create(resourceStore, XdsEventListener.all(convergence, events), Clock.systemUTC(),
        settings.xdsServerOptions(authorizer));
    // the event time of a generation is recorded before streams can push it, so no ACK misses its sample
    this.pipeline = new TranslationPipeline(resourceStore, settings.translatorOptions(),
        convergence::generationApplied, outcome -> {
          metricsRef.get().observeTranslation(outcome.translateNanos() / 1e9, outcome.services(), outcome.nodes());
          firstTranslation.complete(null);
        });
    pipelineRef.set(pipeline);
    this.metrics = new ControlPlaneMetrics(xds, watchers::get, pipeline::queueDepth);
    metrics.registerEventCounters(events::created, events::failed, events::suppressed);
    metrics.registerRouteStatus(() -> countOf(RouteStatusWriter::written), () -> countOf(RouteStatusWriter::failed),
        () -> routeStatus.get() != null && routeStatus.get().isLeader());
    metricsRef.set(metrics);
    this.admin = adminListeners(settings, client);
    metrics.registerAdminRefusals(admin);
    new AdminEndpoints(settings, watchers::get, pipeline, xds, () -> grpc.get() != null, convergence, metrics)
        .registerOn(admin.probe(), admin.debug());
  }

  /**
   * Starts everything against the Kubernetes API fabric8 finds (in-cluster service account, KUBECONFIG,
   * KUBERNETES_MASTER); returns once the probe and debug ports are up (xDS follows when the informers have synced).
   */
  public static ControlPlane start(Settings settings) throws Exception {
    KubernetesClient client = new KubernetesClientBuilder().build();
    log.info("Kubernetes API: {}", ApiConfigurationMessage.describe(client.getConfiguration(), System.getenv(),
        Path.of(System.getProperty("user.home"), ".kube", "config")));
    return start(settings, client, true);
  }

  /** Starts everything against the API of {@code client}, which stays the caller's to close (e.g. the demo's). */
  public static ControlPlane start(Settings settings, KubernetesClient client) throws Exception {
    return start(settings, client, false);
  }

  private static ControlPlane start(Settings settings, KubernetesClient client, boolean ownsClient) throws Exception {
    ControlPlane plane;
    try {
      plane = new ControlPlane(settings, client, ownsClient);
    } catch (RuntimeException | IOException e) {
      if (ownsClient) {
        client.close();
      }
      throw e;
    }
    plane.startAll();
    return plane;
  }

  private void startAll() throws IOException {
    admin.start();
    stateStore.subscribe(debouncer);
    debouncer.subscribe(pipeline);
    if (settings.get(Settings.ROUTE_STATUS)) {
      // the translator's rule for which ports carry HTTP, so a status never claims what the proxies do not do
      RouteStatusWriter writer = RouteStatusWriter.start(client,
          state -> RouteResolution.statuses(state, PortProtocol::carriesHttp),
          settings.routeStatusOptions(System.getenv(), System.getenv().getOrDefault("HOSTNAME", "")));
      routeStatus.set(writer);
      debouncer.subscribe(writer);
    }
    log.info("watching Kubernetes at {}", client.getMasterUrl());
    watchers.set(KubernetesWatchers.start(client, stateStore, settings.watcherOptions()));
    firstTranslation.thenRunAsync(this::startXds).exceptionally(e -> {
      log.error("could not start the xDS server", e);
      return null;
    });
  }

  private void startXds() {
    try {
      InetSocketAddress address = new InetSocketAddress("0.0.0.0", settings.get(Settings.XDS_PORT));
      NettyServerBuilder builder;
      if (settings.xdsTls()) {
        XdsTls serverTls = XdsTls.fromFiles(settings.get(Settings.XDS_TLS_CERT_FILE),
            settings.get(Settings.XDS_TLS_KEY_FILE), settings.get(Settings.XDS_TLS_CLIENT_CA_FILE),
            settings.get(Settings.XDS_TLS_RELOAD_INTERVAL));
        tls.set(serverTls);
        builder = NettyServerBuilder.forAddress(address, serverTls.credentials());
        log.info("xDS TLS: {}", serverTls.description());
      } else {
        builder = NettyServerBuilder.forAddress(address);
        log.warn("xDS port serves plaintext: node snapshots (pod IPs, namespace paths) cross the network"
            + " unencrypted; set --xds-tls-cert-file/--xds-tls-key-file (chart: xdsTls.enabled)");
      }
      if (authorizer.mode() == NodeAuthMode.NONE) {
        log.warn("node authorization is off (--node-auth=none): any client gets the view of the node it claims");
      } else {
        log.info("node authorization: --node-auth={}, trust loopback clients: {}, anonymous clients: {},"
                + " Envoy namespace: '{}'",
            settings.text(Settings.NODE_AUTH), settings.get(Settings.TRUST_LOOPBACK_CLIENTS),
            settings.get(Settings.XDS_ALLOW_ANONYMOUS_CLIENTS), settings.get(Settings.ENVOY_NAMESPACE));
      }
      Server server = builder
          .addService(xds.service())
          .addService(xds.pinService(this::applyPinReport,
              pin -> ResourceNames.outboundListener(ObjectKey.of(pin.getNamespace(), pin.getName()))))
          .addStreamTracerFactory(xds.streamTracer())
          // node Envoys ping every 30 s (see the chart); grpc-java's default would answer with GOAWAY
          .permitKeepAliveTime(10, TimeUnit.SECONDS)
          .permitKeepAliveWithoutCalls(true)
          // dead peers free their streams; old connections rebalance over replicas (Istio: 30 min max age)
          .keepAliveTime(settings.get(Settings.XDS_KEEPALIVE_TIME).toMillis(), TimeUnit.MILLISECONDS)
          .keepAliveTimeout(settings.get(Settings.XDS_KEEPALIVE_TIMEOUT).toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionAge(settings.get(Settings.XDS_MAX_CONNECTION_AGE).toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionAgeGrace(settings.get(Settings.XDS_MAX_CONNECTION_AGE_GRACE).toMillis(), TimeUnit.MILLISECONDS)
          .maxConnectionIdle(settings.get(Settings.XDS_MAX_CONNECTION_IDLE).toMillis(), TimeUnit.MILLISECONDS)
          .maxInboundMessageSize(settings.get(Settings.XDS_MAX_REQUEST_BYTES))
          // headers carry at most a bearer token (16 KiB accepted) and gRPC's own; larger ones end the stream
          .maxInboundMetadataSize(XDS_MAX_METADATA_BYTES)
          .build()
          .start();
      grpc.set(server);
      log.info("xDS (ADS, SotW and Delta) listening on port {}{}", server.getPort(), settings.xdsTls() ? " (TLS)" : "");
      xdsListening.complete(server.getPort());
    } catch (IOException | GeneralSecurityException e) {
      log.error("xDS port {} could not be opened (--xds-port): {}", settings.get(Settings.XDS_PORT), e.getMessage());
      xdsListening.completeExceptionally(e);
    }
  }

  /** A node agent's report, authorized and checked by the pin service: the pins as the model takes them. */
  private void applyPinReport(String node, List<Pin> pins) {
    Map<String, NodePin> byUid = new LinkedHashMap<>();
    for (Pin pin : pins) {
      byUid.put(pin.getPodUid(),
          new NodePin(pin.getPodUid(), ImmutableList.copyOf(pin.getIpsList()), pin.getReleasing()));
    }
    stateStore.reportPins(node, byUid);
  }

  private static AdminListeners adminListeners(Settings settings, KubernetesClient client) {
    try {
      return AdminListeners.create(settings.adminListeners(), () -> client);
    } catch (IllegalArgumentException e) { // e.g. an unreadable --debug-token-file
      throw new Flag.UsageException(e.getMessage());
    }
  }

  private long countOf(java.util.function.ToLongFunction<RouteStatusWriter> counter) {
    RouteStatusWriter writer = routeStatus.get();
    return writer == null ? 0 : counter.applyAsLong(writer);
  }

  private static ThreadFactory daemon(String name) {
    return runnable -> {
      Thread thread = new Thread(runnable, name);
      thread.setDaemon(true);
      return thread;
    };
  }

  @Override
  public CompletableFuture<Integer> xdsStarted() {
    return xdsListening;
  }

  /** The probe port: {@code /healthz}, {@code /readyz}, {@code /metrics}. */
  public int adminPort() {
    return admin.probe().port();
  }

  /** The debug port: every endpoint, {@code GET /debug} lists them. */
  public int debugPort() {
    return admin.debug().port();
  }

  /** The address the debug port binds (loopback unless configured otherwise). */
  public String debugAddress() {
    return admin.debug().host();
  }

  /** The xDS port in use, or -1 before it is open. */
  public int xdsPort() {
    Server server = grpc.get();
    return server == null ? -1 : server.getPort();
  }

  @Override
  public void close() {
    log.info("shutting down: no new xDS streams, finishing in-flight responses (up to {} s)", GRACE_SECONDS);
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
    XdsTls serverTls = tls.get();
    if (serverTls != null) {
      serverTls.close();
    }
    events.close();
    if (tokenReviews != null) {
      tokenReviews.shutdownNow();
    }
    RouteStatusWriter writer = routeStatus.get();
    if (writer != null) {
      writer.close(); // releases the Lease, so another replica writes statuses at once
    }
    KubernetesWatchers current = watchers.get();
    if (current != null) {
      current.close();
    }
    debouncer.close();
    pipeline.close();
    stateStore.close();
    admin.close();
    if (ownsClient) {
      client.close();
    }
    log.info("shut down");
  }
}
