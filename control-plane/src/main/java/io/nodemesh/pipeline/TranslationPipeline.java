package io.nodemesh.pipeline;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Message;
import io.nodemesh.k8s.Change;
import io.nodemesh.k8s.StateUpdate;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.translate.ClusterTranslator;
import io.nodemesh.translate.NodeAssembler;
import io.nodemesh.translate.NodeLocality;
import io.nodemesh.translate.NodeNames;
import io.nodemesh.translate.OutboundService;
import io.nodemesh.translate.PodResources;
import io.nodemesh.translate.PodTranslator;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.translate.ServiceMatch;
import io.nodemesh.translate.ServicePortResources;
import io.nodemesh.translate.ServiceTranslator;
import io.nodemesh.translate.SharedResources;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.translate.UpstreamBinding;
import io.nodemesh.translate.UpstreamScope;
import io.nodemesh.xds.ApplyResult;
import io.nodemesh.xds.NodeView;
import io.nodemesh.xds.Resource;
import io.nodemesh.xds.ResourceStore;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.UpdateBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns debounced cluster changes into resource-store batches, translating only what a change touches: the
 * services that changed (or whose endpoints did), and the nodes whose pods changed — or every node with pods
 * when a service changed, since a node's names include the service layer its pods call. Only the pods whose
 * own listener changed are retranslated: each pod's last translation (listener and per-pod clusters,
 * serialised) is kept and reused while the pod, its service prefixes and (for scoped pods and per-pod
 * binding) the service ports in its scope are the same. An unscoped pod's shared-binding listener does not
 * depend on the catalogue, so a service change retranslates no pod listener when the service CIDRs are set;
 * every node is reassembled, at O(its pods): its service layer is one instance shared with the other nodes.
 *
 * <p>Single writer: all translation state is owned by one thread. Updates that arrive while it is busy are
 * merged (latest state, union of changes), so the queue never grows beyond one pending update.
 */
public final class TranslationPipeline implements Consumer<StateUpdate>, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(TranslationPipeline.class);

  /** What one applied update did, for metrics and the admin endpoint. */
  public record Outcome(
      long generation, long earliestEventNanos, int services, int nodes, long translateNanos, ApplyResult result) {}

  /** The translation state readers may look at: per node its resource names, and current problems. */
  public record View(
      ClusterState state,
      ImmutableMap<String, NodeNames> nodes,
      ImmutableSortedMap<ObjectKey, String> podProblems,
      ImmutableSortedMap<ObjectKey, String> serviceProblems) {
    static final View EMPTY = new View(ClusterState.empty(), ImmutableMap.of(), ImmutableSortedMap.of(),
        ImmutableSortedMap.of());
  }

  private final ResourceStore store;
  private final TranslatorOptions options;
  private final GenerationCauses causes;
  private final Consumer<Outcome> outcomes;
  private final ExecutorService executor = Executors.newSingleThreadExecutor(runnable -> {
    Thread thread = new Thread(runnable, "nodemesh-translator");
    thread.setDaemon(true);
    return thread;
  });
  private final AtomicReference<StateUpdate> pending = new AtomicReference<>();
  private volatile View view = View.EMPTY;

  // owned by the executor thread
  private final TreeMap<ObjectKey, ImmutableList<ServicePortResources>> services = new TreeMap<>();
  private final TreeMap<ObjectKey, String> serviceProblems = new TreeMap<>();
  private final Map<String, NodeNames> nodes = new HashMap<>();
  private final Map<String, ImmutableSortedMap<ObjectKey, String>> podProblemsByNode = new HashMap<>();
  /** Per translatable pod, its last translation; valid while the pod and its scope are unchanged. */
  private final Map<ObjectKey, PodEntry> pods = new HashMap<>();
  /** Per node, the pod list its names were computed from (lists of untouched nodes are shared across states). */
  private final Map<String, ImmutableList<PodInfo>> podsSeen = new HashMap<>();
  /** Set by {@link #podEntry} when it had to translate or a scope changed; read by {@link #translateNode}. */
  private boolean retranslated;
  /** The shared resources and scope index of {@link #services}; rebuilt when a service was retranslated. */
  private SharedResources shared;
  private NodeAssembler assembler;
  private UpstreamScope.Index scopeIndex;

  /**
   * One pod's translation: its listener and own clusters, serialised once, or why it failed; and what it was
   * computed from (the pod and the service ports in its scope), to tell whether it is still valid.
   */
  private record PodEntry(
      PodInfo pod,
      ImmutableList<OutboundService> scope,
      ServiceMatch match,
      Resource listener,
      ImmutableList<Resource> podClusters,
      NodeAssembler.PodPart part) {}

  /** Told of each store generation with the earliest Kubernetes event behind it, before any stream sees it. */
  @FunctionalInterface
  public interface GenerationCauses {
    void generationApplied(long generation, long earliestEventNanos);
  }

  public TranslationPipeline(ResourceStore store, TranslatorOptions options, Consumer<Outcome> outcomes) {
    this(store, options, (generation, eventNanos) -> {}, outcomes);
  }

  public TranslationPipeline(ResourceStore store, TranslatorOptions options, GenerationCauses causes,
      Consumer<Outcome> outcomes) {
    this.store = store;
    this.options = options;
    this.causes = causes;
    this.outcomes = outcomes;
  }

  /** The knobs every translation uses. */
  public TranslatorOptions options() {
    return options;
  }

  /** The latest translation state; immutable. */
  public View view() {
    return view;
  }

  /** Whether an update is waiting for the translator (0 or 1: updates are merged). */
  public int queueDepth() {
    return pending.get() == null ? 0 : 1;
  }

  @Override
  public void accept(StateUpdate update) {
    StateUpdate previous = pending.getAndAccumulate(update, (queued, next) -> queued == null ? next
        : new StateUpdate(next.state(), queued.change().merge(next.change()), next.generation()));
    if (previous == null) {
      executor.execute(this::drain);
    }
  }

  private void drain() {
    StateUpdate update = pending.getAndSet(null);
    if (update == null) {
      return;
    }
    try {
      apply(update.state(), update.change());
    } catch (RuntimeException e) {
      // the store keeps the last good config; the next update retries from scratch
      log.error("translation of state generation {} failed; keeping the last good config", update.generation(), e);
      services.clear();
      nodes.clear();
      pods.clear();
      podsSeen.clear();
      shared = null;
      assembler = null;
      scopeIndex = null;
    }
  }

  private void apply(ClusterState state, Change change) {
    long start = System.nanoTime();
    UpdateBatch.Builder batch = UpdateBatch.builder();
    boolean everything = change.full() || services.isEmpty() && nodes.isEmpty();

    Set<ObjectKey> touchedServices = new TreeSet<>();
    if (everything || change.nodesChanged()) {
      touchedServices.addAll(state.services().keySet()); // localities come from nodes
      touchedServices.addAll(services.keySet());
    } else {
      touchedServices.addAll(change.services());
      touchedServices.addAll(change.endpoints());
      // a route's port config names its backends: their coming, going or port changes retranslate its parents
      for (ObjectKey service : change.services()) {
        for (MeshRoute route : state.routesReferencing(service)) {
          route.parents().forEach(parent -> touchedServices.add(parent.service()));
        }
      }
    }
    for (ObjectKey key : touchedServices) {
      retranslateService(key, state, batch);
    }
    if (shared == null || !touchedServices.isEmpty()) {
      SharedResources previous = shared;
      shared = sharedResources();
      if (previous != null) {
        // the usual case (service CIDRs configured, the same services asking for trafficDistribution): keep the
        // lists every cached pod entry holds, so checking a pod's translation stays an identity check instead of
        // rewriting every entry on each service change
        shared = shared.withPrefixes(
            previous.servicePrefixes().equals(shared.servicePrefixes())
                ? previous.servicePrefixes() : shared.servicePrefixes(),
            previous.distributionPrefixes().equals(shared.distributionPrefixes())
                ? previous.distributionPrefixes() : shared.distributionPrefixes());
      }
      assembler = new NodeAssembler(shared, options);
      // an endpoints-only change leaves every port as it was: keep the index, its memo and thus every scope
      if (scopeIndex == null || !sameScope(scopeIndex.all(), shared.allOutbound())) {
        scopeIndex = new UpstreamScope.Index(shared.allOutbound());
      }
    }

    Set<String> touchedNodes = new TreeSet<>();
    if (everything || !change.services().isEmpty()) {
      touchedNodes.addAll(nodes.keySet());
      touchedNodes.addAll(state.nodes().keySet());
      touchedNodes.addAll(state.nodesWithPods());
    } else {
      touchedNodes.addAll(change.podNodes());
    }
    // a node's zone names the trafficDistribution variants its pods' listeners and its service layer pick
    touchedNodes.addAll(change.nodes());
    if (everything) {
      batch.put(ClusterTranslator.blackhole(options)).put(ClusterTranslator.sharedPassthrough(options));
    }
    Set<String> stillServed = new HashSet<>();
    Set<String> maybeGone = new HashSet<>();
    for (String node : touchedNodes) {
      NodeNames before = nodes.get(node);
      NodeNames after = translateNode(state, node, batch);
      if (after == before) {
        continue; // same pods, every translation reused: nothing of this node changed
      }
      if (after.own().listeners().isEmpty() && !state.nodes().containsKey(node)) {
        nodes.remove(node);
        podsSeen.remove(node);
        batch.removeNode(node);
      } else {
        nodes.put(node, after);
        batch.putNode(node, new NodeView(after.own().listeners(), after.own().clusters(),
            after.serviceLayer().listeners(), after.serviceLayer().clusters()));
      }
      // per-pod names are the node's own; the service layer's names are shared and removed with their service
      stillServed.addAll(after.own().listeners());
      stillServed.addAll(after.own().clusters());
      if (before != null) {
        maybeGone.addAll(before.own().listeners());
        maybeGone.addAll(before.own().clusters());
      }
    }
    for (String name : maybeGone) {
      // a pod that moved nodes keeps its names: it is served by the other node now
      if (ResourceNames.isPerPod(name) && !stillServed.contains(name)) {
        batch.remove(ResourceNames.isOutboundListener(name) ? ResourceType.LISTENER : ResourceType.CLUSTER, name);
      }
    }
    forgetGonePods(state, change, everything);
    long translated = System.nanoTime();
    ApplyResult result = store.apply(batch.build(),
        generation -> causes.generationApplied(generation, change.earliestEventNanos())).join();
    view = new View(state, ImmutableMap.copyOf(nodes), allPodProblems(), ImmutableSortedMap.copyOf(serviceProblems));
    Outcome outcome = new Outcome(result.generation(), change.earliestEventNanos(), touchedServices.size(),
        touchedNodes.size(), translated - start, result);
    log.debug("translated {} services and {} nodes in {} ms: {}", touchedServices.size(), touchedNodes.size(),
        TimeUnit.NANOSECONDS.toMillis(translated - start), result);
    outcomes.accept(outcome);
  }

  /**
   * A node's names from its pods' translations (reused where still valid), assembled with the service layer
   * by the same {@link NodeAssembler} that {@code NodeTranslator} uses; puts the pods' resources into the batch
   * (the store drops those whose version it already holds).
   */
  private NodeNames translateNode(ClusterState state, String node, UpdateBatch.Builder batch) {
    ImmutableList<PodInfo> podsOfNode = state.podsOnNode(node);
    List<PodEntry> entries = new ArrayList<>(podsOfNode.size());
    retranslated = false;
    NodeLocality where = NodeLocality.of(state, node);
    for (PodInfo pod : podsOfNode) {
      PodEntry entry = podEntry(pod, where);
      if (entry != null) {
        entries.add(entry);
      }
    }
    NodeNames previous = nodes.get(node);
    if (previous != null && !retranslated && podsOfNode == podsSeen.get(node)) {
      return previous; // the node's pod list is shared with the state its names were computed from
    }
    podsSeen.put(node, podsOfNode);
    List<NodeAssembler.PodPart> parts = new ArrayList<>(entries.size());
    for (PodEntry entry : entries) {
      parts.add(entry.part());
      if (entry.listener() != null) {
        batch.put(entry.listener());
        entry.podClusters().forEach(batch::put);
      }
    }
    NodeAssembler.Assembled assembled = assembler.assemble(parts, previous, where);
    podProblemsByNode.put(node, assembled.problems());
    return assembled.names();
  }

  /**
   * The pod's translation: the cached one while pod, scope and service match (prefixes, and where the pod is when
   * a service asks for trafficDistribution) are unchanged, else a new one. Null: no resources.
   */
  private PodEntry podEntry(PodInfo pod, NodeLocality where) {
    if (!PodTranslator.translatable(pod)) {
      pods.remove(pod.key());
      return null;
    }
    List<String> problems = new ArrayList<>();
    ImmutableList<OutboundService> scope = scopeIndex.forPod(pod, problems::add);
    // an unscoped pod's listener lists the service prefixes (every ClusterIP when no CIDR is configured), and the
    // ClusterIPs of services asking for trafficDistribution; any pod's chains name the variants of its node/zone
    ServiceMatch match = ServiceMatch.of(shared, UpstreamScope.scoped(pod), where);
    PodEntry cached = pods.get(pod.key());
    // shared binding, unscoped: the listener does not depend on the catalogue, only on the prefixes; a new
    // service changes what the node gets (reassembled below) but not this pod's listener
    boolean listenerFollowsScope = UpstreamScope.scoped(pod) || options.upstreamBinding() == UpstreamBinding.PER_POD;
    boolean sameScope = cached != null && sameScope(cached.scope(), scope);
    if (cached != null && (cached.pod() == pod || cached.pod().equals(pod)) && (sameScope || !listenerFollowsScope)
        && sameMatch(cached.match(), match)) {
      if (!sameScope) {
        retranslated = true; // the node's names change with the scope
      }
      if (cached.scope() != scope || !sameLists(cached.match(), match)) {
        // equal ports from a new index: remember these lists, so the next check is an identity check
        NodeAssembler.PodPart part = cached.part();
        cached = new PodEntry(pod, scope, match, cached.listener(), cached.podClusters(),
            new NodeAssembler.PodPart(part.pod(), part.listener(), part.podClusters(), scope, part.problems(),
                part.failure()));
        pods.put(pod.key(), cached);
      }
      return cached;
    }
    retranslated = true;
    PodEntry entry;
    try {
      PodResources resources = PodTranslator.translate(pod, scope, match, problems, options);
      ImmutableList.Builder<Resource> podClusters = ImmutableList.builder();
      resources.podClusters().values().forEach(cluster -> podClusters.add(Resource.of(cluster)));
      entry = new PodEntry(pod, scope, match, Resource.of(resources.listener()), podClusters.build(),
          new NodeAssembler.PodPart(pod.key(), resources.listener().getName(),
              resources.podClusters().keySet().asList(), scope, resources.problems(), null));
    } catch (RuntimeException e) {
      entry = new PodEntry(pod, scope, match, null, ImmutableList.of(),
          NodeAssembler.PodPart.failed(pod.key(), "translation failed: " + e));
    }
    pods.put(pod.key(), entry);
    return entry;
  }

  /** Equal matches; compares the prefix lists by identity first (they are shared by every pod). */
  private static boolean sameMatch(ServiceMatch a, ServiceMatch b) {
    return sameLists(a, b) && a.where().equals(b.where()) || a.equals(b);
  }

  private static boolean sameLists(ServiceMatch a, ServiceMatch b) {
    return a.services() == b.services() && a.distribution() == b.distribution();
  }

  /** Same service ports (same objects, or equal after a service was retranslated without a change). */
  private static boolean sameScope(ImmutableList<OutboundService> a, ImmutableList<OutboundService> b) {
    if (a == b) {
      return true;
    }
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i) != b.get(i) && !a.get(i).equals(b.get(i))) {
        return false;
      }
    }
    return true;
  }

  private void forgetGonePods(ClusterState state, Change change, boolean everything) {
    if (everything) {
      pods.keySet().removeIf(key -> state.pod(key).isEmpty());
    } else {
      for (ObjectKey key : change.pods()) {
        if (state.pod(key).isEmpty()) {
          pods.remove(key);
        }
      }
    }
  }

  private void retranslateService(ObjectKey key, ClusterState state, UpdateBatch.Builder batch) {
    ImmutableList<ServicePortResources> before = services.getOrDefault(key, ImmutableList.of());
    ImmutableList<ServicePortResources> after = ImmutableList.of();
    serviceProblems.remove(key);
    ServiceInfo service = state.services().get(key);
    if (service != null) {
      try {
        after = ServiceTranslator.translate(service, state, options);
      } catch (RuntimeException e) {
        serviceProblems.put(key, "translation failed: " + e);
        log.warn("service {} failed to translate; it is left out of every node", key, e);
      }
    }
    if (after.isEmpty()) {
      services.remove(key);
    } else {
      services.put(key, after);
    }
    Map<ResourceType, Set<String>> kept = new HashMap<>();
    for (ServicePortResources port : after) {
      // base resources and trafficDistribution variants alike
      for (Message message : port.allResources()) {
        batch.put(message);
        ResourceType type = ResourceType.of(message);
        kept.computeIfAbsent(type, t -> new HashSet<>()).add(type.nameOf(message));
      }
    }
    for (ServicePortResources port : before) {
      for (Message message : port.allResources()) {
        ResourceType type = ResourceType.of(message);
        removeUnlessKept(batch, kept, type, type.nameOf(message));
      }
    }
  }

  private static void removeUnlessKept(
      UpdateBatch.Builder batch, Map<ResourceType, Set<String>> kept, ResourceType type, String name) {
    if (!kept.getOrDefault(type, Set.of()).contains(name)) {
      batch.remove(type, name);
    }
  }

  private SharedResources sharedResources() {
    ImmutableList.Builder<OutboundService> allOutbound = ImmutableList.builder();
    Map<String, ServicePortResources> byName = new LinkedHashMap<>();
    for (ImmutableList<ServicePortResources> ports : services.values()) {
      for (ServicePortResources port : ports) {
        allOutbound.add(port.outbound());
        byName.put(port.name(), port);
      }
    }
    return SharedResources.of(allOutbound.build(), ImmutableMap.copyOf(byName),
        ImmutableSortedMap.copyOf(serviceProblems), options);
  }

  private ImmutableSortedMap<ObjectKey, String> allPodProblems() {
    TreeMap<ObjectKey, String> all = new TreeMap<>();
    podProblemsByNode.values().forEach(all::putAll);
    return ImmutableSortedMap.copyOfSorted(all);
  }


  @Override
  public void close() {
    executor.shutdown();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
