package io.nodemesh.bench;

import com.google.protobuf.Value;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The benchmark's baseline: what a user of java-control-plane writes by default. The same inputs as nodemesh
 * (its informers, cluster model and debouncer) and the same translator functions, but on every debounced change
 * it rebuilds every node's full snapshot and hands it to the library's {@link SimpleCache}
 * ({@code setSnapshot} per node, one global version counter), served by the library's {@link V3DiscoveryServer}
 * over gRPC. So the comparison isolates nodemesh's incremental translation, resource store and xDS server
 * against a full-rebuild snapshot cache.
 *
 * <p>Flags: those of nodemesh's {@link Settings} (only {@code --xds-port}, the debounce and translator flags
 * matter here). Logs {@code baseline xDS listening on port N} once the first snapshot set is in place.
 */
public final class BaselineControlPlane {

  private static final Logger log = LoggerFactory.getLogger(BaselineControlPlane.class);

  private BaselineControlPlane() {}

  public static void main(String[] args) throws Exception {
    Settings settings = Settings.parse(args, System.getenv());
    TranslatorOptions options = settings.translatorOptions();
    SimpleCache<String> cache = new SimpleCache<>(BaselineControlPlane::nodeGroup);
    V3DiscoveryServer discovery = new V3DiscoveryServer(cache);
    CountDownLatch firstSnapshot = new CountDownLatch(1);
    Rebuilder rebuilder = new Rebuilder(cache, options, firstSnapshot);

    KubernetesClient client = new KubernetesClientBuilder().build();
    ClusterStateStore store = new ClusterStateStore(settings.meshOptions());
    Debouncer debouncer = Debouncer.create(settings.watcherOptions());
    store.subscribe(debouncer);
    debouncer.subscribe(rebuilder);
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

  /** Snapshots are per Kubernetes node (metadata node_name, else node.id), like nodemesh's views. */
  private static String nodeGroup(Node node) {
    Value name = node.getMetadata().getFieldsMap().get("node_name");
    return name != null && !name.getStringValue().isEmpty() ? name.getStringValue() : node.getId();
  }

  /** Full rebuild of every node's snapshot per debounced change, on one thread; updates arriving meanwhile merge. */
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
