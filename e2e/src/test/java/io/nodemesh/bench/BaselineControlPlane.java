package io.nodemesh.bench;

import com.google.protobuf.Value;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.ExecutorGroup;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.controlplane.server.serializer.CachedProtoResourcesSerializer;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.nodemesh.app.Settings;
import io.nodemesh.k8s.ClusterStateStore;
import io.nodemesh.k8s.Debouncer;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.k8s.StateUpdate;
import io.nodemesh.model.ClusterState;
import io.nodemesh.translate.NodeResources;
import io.nodemesh.translate.NodeTranslator;
import io.nodemesh.translate.SharedResources;
import io.nodemesh.translate.TranslatorOptions;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The benchmark's baselines: java-control-plane's {@link SimpleCache} served by its {@link V3DiscoveryServer}
 * over gRPC, fed by the same inputs as nodemesh (its informers, cluster model and debouncer) and the same
 * translator. Two flavours, the first argument:
 * <ul>
 *   <li>{@code naive}: what the library's examples lead to. On every debounced change it rebuilds every node's
 *       full snapshot with one global version ({@code setSnapshot} per node) and serves with the library's
 *       defaults: the plain serializer, responses built on the thread that sets the snapshot or on gRPC's.
 *   <li>{@code tuned}: what a competent user writes ({@link TunedSnapshots}): nodemesh's incremental
 *       translation, snapshots set only for the nodes whose resources changed, per-type versions, the
 *       library's {@link CachedProtoResourcesSerializer}, and responses built on an executor group.
 * </ul>
 *
 * <p>The other arguments are nodemesh's {@link Settings} flags (only {@code --xds-port}, the debounce and
 * translator flags matter here). Logs {@code baseline xDS listening on port N} once the first snapshots are set.
 */
public final class BaselineControlPlane {

  private static final Logger log = LoggerFactory.getLogger(BaselineControlPlane.class);

  /** How the baseline uses the library. */
  enum Flavor { NAIVE, TUNED }

  private BaselineControlPlane() {}

  public static void main(String[] args) throws Exception {
    Flavor flavor = Flavor.valueOf(args[0].toUpperCase(Locale.ROOT));
    Settings settings = Settings.parse(Arrays.copyOfRange(args, 1, args.length), System.getenv());
    TranslatorOptions options = settings.translatorOptions();
    SimpleCache<String> cache = new SimpleCache<>(BaselineControlPlane::nodeGroup);
    CountDownLatch firstSnapshot = new CountDownLatch(1);
    V3DiscoveryServer discovery;
    Consumer<StateUpdate> snapshots;
    if (flavor == Flavor.NAIVE) {
      discovery = new V3DiscoveryServer(cache);
      snapshots = new Rebuilder(cache, options, firstSnapshot);
    } else {
      discovery = new V3DiscoveryServer(List.of(), cache,
          responseExecutors(Runtime.getRuntime().availableProcessors()), new CachedProtoResourcesSerializer());
      snapshots = new TunedSnapshots(cache, options, firstSnapshot::countDown);
    }

    KubernetesClient client = new KubernetesClientBuilder().build();
    ClusterStateStore store = new ClusterStateStore(settings.meshOptions());
    Debouncer debouncer = Debouncer.create(settings.watcherOptions());
    store.subscribe(debouncer);
    debouncer.subscribe(snapshots);
    KubernetesWatchers.start(client, store, settings.watcherOptions());

    firstSnapshot.await();
    Server server = NettyServerBuilder
        .forAddress(new InetSocketAddress("0.0.0.0", settings.get(Settings.XDS_PORT)))
        .addService(discovery.getAggregatedDiscoveryServiceImpl())
        .maxInboundMessageSize(settings.get(Settings.MAX_MESSAGE_BYTES))
        .build()
        .start();
    log.info("baseline xDS listening on port {}", server.getPort());
    server.awaitTermination();
  }

  /**
   * Single-thread executors handed out round-robin: the library asks for one per stream, so each stream's
   * responses stay in order while they are built off the gRPC and snapshot threads.
   * ({@code DefaultExecutorGroup} hands out the direct executor, which builds them on those threads.)
   */
  private static ExecutorGroup responseExecutors(int threads) {
    ThreadFactory factory = BenchRun.daemon("baseline-response");
    List<ExecutorService> executors = new ArrayList<>(threads);
    for (int i = 0; i < threads; i++) {
      executors.add(Executors.newSingleThreadExecutor(factory));
    }
    AtomicInteger next = new AtomicInteger();
    return () -> executors.get(Math.floorMod(next.getAndIncrement(), threads));
  }

  /** Snapshots are per Kubernetes node (metadata node_name, else node.id), like nodemesh's views. */
  private static String nodeGroup(Node node) {
    Value name = node.getMetadata().getFieldsMap().get("node_name");
    return name != null && !name.getStringValue().isEmpty() ? name.getStringValue() : node.getId();
  }

  /**
   * The naive flavour: a full rebuild of every node's snapshot per debounced change, on one thread; updates
   * arriving meanwhile merge.
   */
  private static final class Rebuilder implements Consumer<StateUpdate> {
    private final SimpleCache<String> cache;
    private final TranslatorOptions options;
    private final CountDownLatch firstSnapshot;
    private final AtomicReference<ClusterState> pending = new AtomicReference<>();
    private final ExecutorService executor = Executors.newSingleThreadExecutor(runnable -> {
      Thread thread = new Thread(runnable, "baseline-rebuild");
      thread.setDaemon(true);
      return thread;
    });
    private final Set<String> known = new HashSet<>();
    private long version;

    Rebuilder(SimpleCache<String> cache, TranslatorOptions options, CountDownLatch firstSnapshot) {
      this.cache = cache;
      this.options = options;
      this.firstSnapshot = firstSnapshot;
    }

    @Override
    public void accept(StateUpdate update) {
      if (pending.getAndSet(update.state()) == null) {
        executor.execute(this::drain);
      }
    }

    private void drain() {
      ClusterState state = pending.getAndSet(null);
      if (state == null) {
        return;
      }
      try {
        rebuild(state);
      } catch (RuntimeException e) {
        log.error("rebuild failed", e);
      }
    }

    private void rebuild(ClusterState state) {
      long start = System.nanoTime();
      String snapshotVersion = Long.toString(++version);
      SharedResources shared = SharedResources.translate(state, options);
      Set<String> nodes = new HashSet<>(state.nodes().keySet());
      for (String node : nodes) {
        NodeResources resources = NodeTranslator.translate(state, node, options, shared);
        cache.setSnapshot(node, Snapshot.create(
            resources.clusters().values(),
            resources.endpoints().values(),
            resources.listeners().values(),
            resources.routes().values(),
            List.of(),
            snapshotVersion));
      }
      for (String gone : known) {
        if (!nodes.contains(gone)) {
          cache.clearSnapshot(gone);
        }
      }
      known.clear();
      known.addAll(nodes);
      firstSnapshot.countDown();
      log.info("baseline rebuilt {} node snapshots (version {}) in {} ms", nodes.size(), snapshotVersion,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }
  }
}
