package io.nodemesh.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.nodemesh.admin.ConvergenceTracker;
import io.nodemesh.k8s.Change;
import io.nodemesh.k8s.StateUpdate;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import io.nodemesh.translate.NodeNames;
import io.nodemesh.translate.NodeResources;
import io.nodemesh.translate.NodeTranslator;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.translate.UpstreamBinding;
import io.nodemesh.xds.Resource;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.StoreSnapshot;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The pipeline reuses each pod's last translation while the pod and its scope are unchanged. Whatever it
 * reuses, every node must end up exactly as a fresh {@link NodeTranslator} run over the same state says:
 * same names per type, same content (versions) of every listener and cluster, same pod problems.
 */
class TranslationPipelineTest {

  private final BlockingQueue<TranslationPipeline.Outcome> outcomes = new LinkedBlockingQueue<>();
  private final ResourceStore store = new ResourceStore();
  private final ClusterState.Builder model = ClusterState.builder(MeshOptions.DEFAULTS);
  private TranslationPipeline pipeline;
  private TranslatorOptions options;
  private long generation;

  @AfterEach
  void close() {
    if (pipeline != null) {
      pipeline.close();
    }
  }

  @ParameterizedTest
  @EnumSource(UpstreamBinding.class)
  void everyNodeMatchesAFreshTranslationThroughPodServiceAndEndpointChanges(UpstreamBinding binding)
      throws Exception {
    options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding);
    pipeline = new TranslationPipeline(store, options, outcomes::add);
    model.putNamespace(new NamespaceInfo("apps", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")));
    for (int n = 0; n < 3; n++) {
      model.putNode(NodeInfo.of("node-" + n, "zone-" + n));
    }
    for (int s = 0; s < 6; s++) {
      model.putService(service(s, false));
      model.putEndpointSlice(slice(s, 3));
    }
    for (int p = 0; p < 12; p++) {
      // every third pod calls only svc-1 and svc-2; one pod has a broken scope entry
      String scope = p % 3 == 0 ? "svc-1.apps,svc-2.apps:80" : p == 4 ? "svc-3.apps,not a service" : null;
      model.putPod(pod(p, "node-" + (p % 3), scope));
    }
    apply(Change.full(System.nanoTime()));
    assertMatchesFreshTranslation();
    // nodes with an unscoped pod hold the catalogue's service layer as one instance, not a copy each; node-0
    // has only scoped pods and holds the union of their scopes
    NodeNames node0 = pipeline.view().nodes().get("node-0");
    NodeNames node1 = pipeline.view().nodes().get("node-1");
    assertThat(node1.serviceLayer()).isSameAs(pipeline.view().nodes().get("node-2").serviceLayer());
    assertThat(store.snapshot().node("node-1").orElseThrow().sharedClusters())
        .isSameAs(store.snapshot().node("node-2").orElseThrow().sharedClusters());
    assertThat(node0.serviceLayer().endpoints()).isNotEmpty()
        .hasSizeLessThan(node1.serviceLayer().endpoints().size());

    model.putPod(pod(12, "node-1", null));
    apply(Change.builder().pod(ObjectKey.of("apps", "pod-12")).podNode("node-1").build());
    assertMatchesFreshTranslation();

    model.putPod(pod(0, "node-0", "svc-4.apps"));
    apply(Change.builder().pod(ObjectKey.of("apps", "pod-0")).podNode("node-0").build());
    assertMatchesFreshTranslation();

    model.putService(service(2, true));
    apply(Change.builder().service(ObjectKey.of("apps", "svc-2")).build());
    assertMatchesFreshTranslation();

    model.putEndpointSlice(slice(1, 1));
    apply(Change.builder().endpoints(ObjectKey.of("apps", "svc-1")).build());
    assertMatchesFreshTranslation();

    model.removeService(ObjectKey.of("apps", "svc-4"));
    apply(Change.builder().service(ObjectKey.of("apps", "svc-4")).build());
    assertMatchesFreshTranslation();

    model.removePod(ObjectKey.of("apps", "pod-5"));
    model.putPod(pod(6, "node-2", "svc-1.apps,svc-2.apps:80")); // moved from node-0
    apply(Change.builder().pod(ObjectKey.of("apps", "pod-5")).pod(ObjectKey.of("apps", "pod-6"))
        .podNode("node-2").podNode("node-0").build());
    assertMatchesFreshTranslation();
    assertThat(store.snapshot().get(ResourceType.LISTENER, "pod/apps/pod-5/outbound")).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(UpstreamBinding.class)
  void trafficDistributionVariantsFollowServiceAndNodeZoneChanges(UpstreamBinding binding) throws Exception {
    options = TranslatorOptions.DEFAULTS.withUpstreamBinding(binding); // no CIDRs: chains list ClusterIPs
    pipeline = new TranslationPipeline(store, options, outcomes::add);
    model.putNamespace(new NamespaceInfo("apps", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")));
    model.putNode(NodeInfo.of("node-0", "zone-a"));
    model.putNode(NodeInfo.of("node-1", "zone-a"));
    model.putNode(NodeInfo.of("node-2", "zone-b"));
    model.putNode(NodeInfo.of("node-3", null));
    for (int s = 0; s < 4; s++) {
      model.putService(service(s, false));
      model.putEndpointSlice(slice(s, 3));
    }
    model.putService(service(0, false).withTrafficDistribution(TrafficDistribution.PREFER_SAME_ZONE));
    for (int p = 0; p < 8; p++) {
      model.putPod(pod(p, "node-" + (p % 4), p == 5 ? "svc-0.apps,svc-1.apps" : null));
    }
    apply(Change.full(System.nanoTime()));
    assertMatchesFreshTranslation();
    boolean shared = binding == UpstreamBinding.SHARED;
    assertThat(store.snapshot().get(ResourceType.CLUSTER, "dst/10.96.0.1/80@zone/zone-a").isPresent())
        .isEqualTo(shared);
    Resource node0Listener = store.snapshot().get(ResourceType.LISTENER, "pod/apps/pod-0/outbound").orElseThrow();

    // another service asks (PreferSameNode): variants per node, every unscoped pod gets a chain for it
    model.putService(service(1, false).withTrafficDistribution(TrafficDistribution.PREFER_SAME_NODE));
    apply(Change.builder().service(ObjectKey.of("apps", "svc-1")).build());
    assertMatchesFreshTranslation();
    assertThat(store.snapshot().get(ResourceType.ENDPOINT, "svc/apps/svc-1/9000@node/node-3").isPresent())
        .isEqualTo(shared);

    // node-1 moves to zone-b and node-3 gets a zone: their pods' chains and service layers follow
    model.putNode(NodeInfo.of("node-1", "zone-b"));
    model.putNode(NodeInfo.of("node-3", "zone-c"));
    apply(Change.builder().node("node-1").node("node-3").build());
    assertMatchesFreshTranslation();
    assertThat(store.snapshot().get(ResourceType.CLUSTER, "dst/10.96.0.1/9000@zone/zone-c").isPresent())
        .isEqualTo(shared);

    // a new node in a new zone, with a pod
    model.putNode(NodeInfo.of("node-4", "zone-d"));
    model.putPod(pod(9, "node-4", null));
    apply(Change.builder().node("node-4").pod(ObjectKey.of("apps", "pod-9")).podNode("node-4").build());
    assertMatchesFreshTranslation();

    // endpoints move: only the service's resources, variants included
    model.putEndpointSlice(slice(0, 1));
    apply(Change.builder().endpoints(ObjectKey.of("apps", "svc-0")).build());
    assertMatchesFreshTranslation();

    // nobody asks any more: variants leave the store, listeners are as before
    model.putService(service(0, false));
    model.putService(service(1, false));
    apply(Change.builder().service(ObjectKey.of("apps", "svc-0")).service(ObjectKey.of("apps", "svc-1")).build());
    assertMatchesFreshTranslation();
    StoreSnapshot snapshot = store.snapshot();
    for (ResourceType type : ResourceType.values()) {
      assertThat(snapshot.resources(type)).as("%s without variants", type.shortName())
          .noneMatch(resource -> resource.name().contains("@"));
    }
    // shared binding: the zone chain came and went with the asking service; per-pod binding never had one
    assertThat(snapshot.get(ResourceType.LISTENER, "pod/apps/pod-0/outbound").orElseThrow().version()
        .equals(node0Listener.version())).isEqualTo(!shared);
  }

  @Test
  void aGenerationsEventTimeIsRecordedBeforeAnyStreamIsWokenForIt() throws Exception {
    // a stream woken for a generation can push, and its client ACK, before the translator thread goes on: the
    // event time must already be there, or the ACK's convergence sample is lost
    ConvergenceTracker convergence = new ConvergenceTracker((type, seconds) -> {});
    List<Boolean> knownWhenStreamsWake = new CopyOnWriteArrayList<>();
    store.addListener((snapshot, change) ->
        knownWhenStreamsWake.add(convergence.observedAtMillis(change.generation()).isPresent()));
    options = TranslatorOptions.DEFAULTS;
    pipeline = new TranslationPipeline(store, options, convergence::generationApplied, outcomes::add);
    model.putNamespace(new NamespaceInfo("apps", ImmutableSortedMap.of("nodemesh.io/mesh", "enabled")));
    model.putNode(NodeInfo.of("node-0", "zone-0"));
    model.putService(service(0, false));
    model.putEndpointSlice(slice(0, 3));
    model.putPod(pod(0, "node-0", null));
    apply(Change.full(System.nanoTime()));
    model.putPod(pod(1, "node-0", null));
    apply(Change.builder().pod(ObjectKey.of("apps", "pod-1")).podNode("node-0").build());

    assertThat(knownWhenStreamsWake).hasSize(2).containsOnly(true);
  }

  private void apply(Change change) throws InterruptedException {
    pipeline.accept(new StateUpdate(model.build(), change, ++generation));
    assertThat(outcomes.poll(30, TimeUnit.SECONDS)).as("translation outcome").isNotNull();
  }

  private void assertMatchesFreshTranslation() {
    TranslationPipeline.View view = pipeline.view();
    ClusterState state = view.state();
    StoreSnapshot snapshot = store.snapshot();
    for (String node : state.nodes().keySet()) {
      NodeResources fresh = NodeTranslator.translate(state, node, options);
      NodeNames names = view.nodes().get(node);
      assertThat(names).as("names of %s", node).isNotNull();
      assertThat(names.listeners()).as("listeners of %s", node).containsExactlyInAnyOrderElementsOf(fresh.listeners().keySet());
      assertThat(names.clusters()).as("clusters of %s", node).containsExactlyInAnyOrderElementsOf(fresh.clusters().keySet());
      assertThat(names.endpoints()).as("endpoints of %s", node).containsExactlyInAnyOrderElementsOf(fresh.endpoints().keySet());
      assertThat(names.routes()).as("routes of %s", node).containsExactlyInAnyOrderElementsOf(fresh.routes().keySet());
      assertSameContent(snapshot, ResourceType.LISTENER, fresh.listeners());
      assertSameContent(snapshot, ResourceType.CLUSTER, fresh.clusters());
      assertSameContent(snapshot, ResourceType.ENDPOINT, fresh.endpoints());
      assertSameContent(snapshot, ResourceType.ROUTE, fresh.routes());
      fresh.podProblems().forEach((pod, problem) -> assertThat(view.podProblems()).containsEntry(pod, problem));
    }
  }

  private static void assertSameContent(
      StoreSnapshot snapshot, ResourceType type, Map<String, ? extends Message> expected) {
    expected.forEach((name, message) -> {
      Optional<Resource> held = snapshot.get(type, name);
      assertThat(held).as("%s %s in the store", type.shortName(), name).isPresent();
      assertThat(held.get().version()).as("version of %s %s", type.shortName(), name)
          .isEqualTo(Resource.of(message).version());
    });
  }

  private static PodInfo pod(int index, String node, String scope) {
    ImmutableSortedMap<String, String> annotations =
        scope == null ? ImmutableSortedMap.of() : ImmutableSortedMap.of("nodemesh.io/upstreams", scope);
    return new PodInfo(String.format("00000000-0000-0000-0000-%012d", index), "apps", "pod-" + index,
        Optional.of(node), ImmutableList.of("10.1.0." + (index + 1)), PodPhase.RUNNING, false, false, null,
        annotations, null);
  }

  private static ServiceInfo service(int index, boolean extraPort) {
    ImmutableList.Builder<ServicePort> ports = ImmutableList.builder();
    ports.add(new ServicePort("grpc", 50051, "50051", Protocol.TCP, Optional.of("grpc")));
    ports.add(new ServicePort("http", 80, "8080", Protocol.TCP, Optional.empty()));
    ports.add(new ServicePort("tcp-admin", 9000, "9000", Protocol.TCP, Optional.empty()));
    if (extraPort) {
      ports.add(new ServicePort("http-metrics", 9090, "9090", Protocol.TCP, Optional.empty()));
    }
    return new ServiceInfo("apps", "svc-" + index, ImmutableList.of("10.96.0." + (index + 1)), ports.build(), null);
  }

  private static EndpointSliceInfo slice(int service, int endpoints) {
    ImmutableList.Builder<EndpointInfo> list = ImmutableList.builder();
    for (int e = 0; e < endpoints; e++) {
      list.add(new EndpointInfo(ImmutableList.of("10.1.0." + (e + 1)), true, true, false, Optional.of("node-0"),
          Optional.empty(), Optional.empty()));
    }
    return new EndpointSliceInfo("apps", "svc-" + service + "-abcde", "svc-" + service, AddressType.IPV4,
        ImmutableList.of(new EndpointPort("grpc", 50051, Protocol.TCP, Optional.empty()),
            new EndpointPort("http", 8080, Protocol.TCP, Optional.empty()),
            new EndpointPort("tcp-admin", 9000, Protocol.TCP, Optional.empty())),
        list.build());
  }
}
