package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * An immutable snapshot of everything the control plane knows about the cluster: validated objects, each
 * pod's mesh decision, indexes (pods by node, slices by service) and the problems found in the input.
 *
 * <p>Thread-safe (deeply immutable). Build one with {@link #builder(MeshOptions)}; a long-lived writer can
 * keep one {@link Builder} as its working state and call {@link Builder#build()} after each batch.
 */
public final class ClusterState {

  private static final ClusterState EMPTY = builder(MeshOptions.DEFAULTS).build();

  private final MeshOptions options;
  private final ImmutableSortedMap<String, NodeInfo> nodes;
  private final ImmutableSortedMap<String, NamespaceInfo> namespaces;
  /** Pods by key, in shards that a new state shares with the previous one unless a pod of the shard changed. */
  private final PodTable podTable;
  private final ImmutableSortedMap<ObjectKey, ServiceInfo> services;
  private final ImmutableSortedMap<ObjectKey, EndpointSliceInfo> endpointSlices;
  private final ImmutableSortedMap<MeshRoute.Key, MeshRoute> routes;
  private final ImmutableSortedSet<Problem> problems;
  /** Per node its pods in key order; lists of nodes without changes are shared with the previous state. */
  private final ImmutableMap<String, ImmutableList<PodInfo>> podsByNode;
  /** Per service its slices in key order; shared likewise. */
  private final ImmutableMap<ObjectKey, ImmutableList<EndpointSliceInfo>> slicesByService;
  /** {@link #pods()} as a sorted map, built on first use (the hot paths look pods up by key or node). */
  private volatile ImmutableSortedMap<ObjectKey, PodInfo> sortedPods;
  /** Per service the routes naming it as parent or backend, built on first use. */
  private volatile ImmutableMap<ObjectKey, RouteRefs> routeIndex;
  /** Pods by IP, built on first use (proxyless clients' localities), not for every state. */
  private volatile ImmutableMap<String, ImmutableList<PodInfo>> podsByIp;
  /** Node names by address, built on first use like {@link #podsByIp}. */
  private volatile ImmutableMap<String, String> nodesByAddress;

  /** The routes that name one service: as a parent (they attach to it) or as a backend (they send to it). */
  private record RouteRefs(ImmutableList<MeshRoute> attached, ImmutableList<MeshRoute> referencing) {}

  private ClusterState(
      MeshOptions options,
      ImmutableSortedMap<String, NodeInfo> nodes,
      ImmutableSortedMap<String, NamespaceInfo> namespaces,
      PodTable podTable,
      ImmutableSortedMap<ObjectKey, ServiceInfo> services,
      ImmutableSortedMap<ObjectKey, EndpointSliceInfo> endpointSlices,
      ImmutableSortedMap<MeshRoute.Key, MeshRoute> routes,
      ImmutableSortedSet<Problem> problems,
      ImmutableMap<String, ImmutableList<PodInfo>> podsByNode,
      ImmutableMap<ObjectKey, ImmutableList<EndpointSliceInfo>> slicesByService) {
    this.options = options;
    this.nodes = nodes;
    this.namespaces = namespaces;
    this.podTable = podTable;
    this.services = services;
    this.endpointSlices = endpointSlices;
    this.routes = routes;
    this.problems = problems;
    this.podsByNode = podsByNode;
    this.slicesByService = slicesByService;
  }

  public static ClusterState empty() {
    return EMPTY;
  }

  public static Builder builder(MeshOptions options) {
    return new Builder(options);
  }

  /** A builder holding this state's objects, to derive the next state. */
  public Builder toBuilder() {
    Builder builder = new Builder(options);
    builder.nodes.putAll(nodes);
    builder.namespaces.putAll(namespaces);
    // decided again rather than copied, so that the builder knows which pods name which netns path
    podTable.forEach((key, pod) ->
        builder.storeDecided(pod, MeshPolicy.evaluate(pod, namespaces.get(pod.namespace()), options)));
    builder.services.putAll(services);
    endpointSlices.values().forEach(builder::storeSlice);
    builder.routes.putAll(routes);
    Set<Problem> replayedConflicts = new HashSet<>(builder.netnsConflicts.values());
    for (Problem problem : problems) {
      if (replayedConflicts.contains(problem)) {
        continue; // the replay above recorded it again, kept apart so it goes away with the conflict
      }
      builder.problems.computeIfAbsent(problemKey(problem.kind(), problem.namespace(), problem.name()), k -> new ArrayList<>())
          .add(problem);
    }
    builder.podsChangedByOthers.clear();
    return builder;
  }

  public MeshOptions options() {
    return options;
  }

  public ImmutableSortedMap<String, NodeInfo> nodes() {
    return nodes;
  }

  public ImmutableSortedMap<String, NamespaceInfo> namespaces() {
    return namespaces;
  }

  /**
   * Every pod, sorted by key. Built on first call per state (O(pods log pods)); prefer {@link #pod},
   * {@link #podsOnNode} and {@link #nodesWithPods} on hot paths.
   */
  public ImmutableSortedMap<ObjectKey, PodInfo> pods() {
    ImmutableSortedMap<ObjectKey, PodInfo> sorted = sortedPods;
    if (sorted == null) {
      TreeMap<ObjectKey, PodInfo> all = new TreeMap<>();
      podTable.forEach(all::put);
      sorted = ImmutableSortedMap.copyOfSorted(all);
      sortedPods = sorted;
    }
    return sorted;
  }

  /** Number of pods (without building {@link #pods()}). */
  public int podCount() {
    return podTable.size();
  }

  public ImmutableSortedMap<ObjectKey, ServiceInfo> services() {
    return services;
  }

  public ImmutableSortedMap<ObjectKey, EndpointSliceInfo> endpointSlices() {
    return endpointSlices;
  }

  /** The mesh routes (HTTPRoute, GRPCRoute) attached to Services; rejected ones have no rules and a reason. */
  public ImmutableSortedMap<MeshRoute.Key, MeshRoute> routes() {
    return routes;
  }

  /** The routes whose parentRefs name {@code service}, in key order. */
  public ImmutableList<MeshRoute> routesAttachedTo(ObjectKey service) {
    RouteRefs refs = routeIndex().get(service);
    return refs == null ? ImmutableList.of() : refs.attached();
  }

  /** The routes that name {@code service} as a parent or a backend (mirrors included), in key order. */
  public ImmutableList<MeshRoute> routesReferencing(ObjectKey service) {
    RouteRefs refs = routeIndex().get(service);
    return refs == null ? ImmutableList.of() : refs.referencing();
  }

  private ImmutableMap<ObjectKey, RouteRefs> routeIndex() {
    ImmutableMap<ObjectKey, RouteRefs> index = routeIndex;
    if (index == null) {
      Map<ObjectKey, Set<MeshRoute>> attached = new HashMap<>();
      Map<ObjectKey, Set<MeshRoute>> referencing = new HashMap<>();
      for (MeshRoute route : routes.values()) {
        for (MeshRoute.Parent parent : route.parents()) {
          attached.computeIfAbsent(parent.service(), k -> new LinkedHashSet<>()).add(route);
          referencing.computeIfAbsent(parent.service(), k -> new LinkedHashSet<>()).add(route);
        }
        for (MeshRoute.Rule rule : route.rules()) {
          rule.backends().forEach(backend ->
              referencing.computeIfAbsent(backend.service(), k -> new LinkedHashSet<>()).add(route));
          rule.filters().stream().filter(MeshRoute.Mirror.class::isInstance).forEach(mirror ->
              referencing.computeIfAbsent(((MeshRoute.Mirror) mirror).backend().service(),
                  k -> new LinkedHashSet<>()).add(route));
        }
      }
      ImmutableMap.Builder<ObjectKey, RouteRefs> built = ImmutableMap.builder();
      referencing.forEach((service, routesOf) -> built.put(service, new RouteRefs(
          ImmutableList.copyOf(attached.getOrDefault(service, Set.of())), ImmutableList.copyOf(routesOf))));
      index = built.buildOrThrow();
      routeIndex = index;
    }
    return index;
  }

  /**
   * The pods that hold {@code ip} (canonical text form, as the model keeps pod IPs), terminal ones included, in key
   * order: usually one; several for hostNetwork pods of one node, or while an IP passes from a finished pod to a new
   * one.
   */
  public ImmutableList<PodInfo> podsWithIp(String ip) {
    ImmutableMap<String, ImmutableList<PodInfo>> index = podsByIp;
    if (index == null) {
      Map<String, ImmutableList.Builder<PodInfo>> byIp = new HashMap<>();
      for (PodInfo pod : pods().values()) {
        for (String podIp : pod.ips()) {
          byIp.computeIfAbsent(podIp, k -> ImmutableList.builder()).add(pod);
        }
      }
      ImmutableMap.Builder<String, ImmutableList<PodInfo>> built = ImmutableMap.builderWithExpectedSize(byIp.size());
      byIp.forEach((podIp, pods) -> built.put(podIp, pods.build()));
      index = built.buildOrThrow();
      podsByIp = index;
    }
    return index.getOrDefault(ip, ImmutableList.of());
  }

  /** The node that has {@code address} among its addresses (the first by name if several claim it). */
  public Optional<String> nodeWithAddress(String address) {
    ImmutableMap<String, String> index = nodesByAddress;
    if (index == null) {
      Map<String, String> byAddress = new HashMap<>();
      for (NodeInfo node : nodes.values()) {
        for (String nodeAddress : node.addresses()) {
          byAddress.putIfAbsent(nodeAddress, node.name());
        }
      }
      index = ImmutableMap.copyOf(byAddress);
      nodesByAddress = index;
    }
    return Optional.ofNullable(index.get(address));
  }

  /** Everything in the input that was skipped or repaired, with reasons. */
  public ImmutableSortedSet<Problem> problems() {
    return problems;
  }

  /** The pods scheduled to a node (meshed or not), ordered by namespace and name. */
  public ImmutableList<PodInfo> podsOnNode(String nodeName) {
    return podsByNode.getOrDefault(nodeName, ImmutableList.of());
  }

  /** The names of the nodes that have at least one pod (known Node object or not). */
  public ImmutableSet<String> nodesWithPods() {
    return podsByNode.keySet();
  }

  /** The EndpointSlices that belong to a service (label kubernetes.io/service-name). */
  public ImmutableList<EndpointSliceInfo> slicesOf(ObjectKey service) {
    return slicesByService.getOrDefault(service, ImmutableList.of());
  }

  public Optional<NodeInfo> node(String name) {
    return Optional.ofNullable(nodes.get(name));
  }

  public Optional<PodInfo> pod(ObjectKey key) {
    return Optional.ofNullable(podTable.get(key));
  }

  public Optional<ServiceInfo> service(ObjectKey key) {
    return Optional.ofNullable(services.get(key));
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ClusterState state
        && options.equals(state.options)
        && nodes.equals(state.nodes)
        && namespaces.equals(state.namespaces)
        && pods().equals(state.pods())
        && services.equals(state.services)
        && endpointSlices.equals(state.endpointSlices)
        && routes.equals(state.routes)
        && problems.equals(state.problems);
  }

  @Override
  public int hashCode() {
    return Objects.hash(nodes, namespaces, pods(), services, endpointSlices);
  }

  @Override
  public String toString() {
    return "ClusterState{nodes=" + nodes.size() + ", namespaces=" + namespaces.size() + ", pods=" + podTable.size()
        + ", services=" + services.size() + ", endpointSlices=" + endpointSlices.size() + ", routes=" + routes.size()
        + ", problems=" + problems.size() + "}";
  }

  private static String problemKey(String kind, String namespace, String name) {
    return kind + "\u0000" + namespace + "\u0000" + name;
  }

  /**
   * Mutable working state that validates objects as they are put, re-evaluates mesh decisions when a
   * namespace changes, and keeps each object's problems so that replacing or removing it clears them.
   * Not thread-safe: owned by one writer.
   */
  public static final class Builder {
    private final MeshOptions options;
    private final TreeMap<String, NodeInfo> nodes = new TreeMap<>();
    private final TreeMap<String, NamespaceInfo> namespaces = new TreeMap<>();
    private final TreeMap<ObjectKey, PodInfo> pods = new TreeMap<>();
    private final TreeMap<ObjectKey, ServiceInfo> services = new TreeMap<>();
    private final TreeMap<ObjectKey, EndpointSliceInfo> endpointSlices = new TreeMap<>();
    private final TreeMap<MeshRoute.Key, MeshRoute> routes = new TreeMap<>();
    private final Map<String, List<Problem>> problems = new TreeMap<>();
    // indexes, kept up to date on every put and remove
    private final Map<String, TreeMap<ObjectKey, PodInfo>> podIndex = new HashMap<>();
    private final Map<ObjectKey, TreeMap<ObjectKey, EndpointSliceInfo>> sliceIndex = new HashMap<>();
    /** Annotation netns mode: who names which path on which node (empty in template mode). */
    private final NetnsClaims netnsClaims = new NetnsClaims();
    /** The problem of each pod refused because another pod of its node names the same netns path. */
    private final Map<ObjectKey, Problem> netnsConflicts = new HashMap<>();
    /** The pins each node's agent reported last (node name -> pod UID -> pin); see {@link #putPins}. */
    private final Map<String, ImmutableMap<String, NodePin>> pins = new HashMap<>();
    /** Pods stored with the IPs of their pin because the API does not show theirs yet. */
    private final Set<ObjectKey> ipsFromPin = new HashSet<>();
    /** Pods whose mesh status changed because another pod changed, until {@link #takePodsChangedByOthers}. */
    private final Set<ObjectKey> podsChangedByOthers = new HashSet<>();
    // what changed since the last build: build() copies only that and shares the rest with the last state
    private ClusterState last;
    private final Set<ObjectKey> dirtyPods = new HashSet<>();
    private final Set<String> dirtyPodNodes = new HashSet<>();
    private final Set<ObjectKey> dirtySliceServices = new HashSet<>();
    private boolean nodesDirty;
    private boolean namespacesDirty;
    private boolean servicesDirty;
    private boolean slicesDirty;
    private boolean routesDirty;
    private boolean problemsDirty;

    private Builder(MeshOptions options) {
      this.options = Objects.requireNonNull(options, "options");
    }

    /**
     * The state as of now. Costs O(what changed since the previous build): unchanged collections, pod shards,
     * per-node pod lists and per-service slice lists are shared with the previous state, which is what keeps a
     * pod event cheap at tens of thousands of pods.
     */
    public ClusterState build() {
      ClusterState previous = last;
      ClusterState next;
      if (previous == null) {
        ImmutableMap.Builder<String, ImmutableList<PodInfo>> byNode = ImmutableMap.builder();
        podIndex.forEach((node, podsOfNode) -> byNode.put(node, ImmutableList.copyOf(podsOfNode.values())));
        ImmutableMap.Builder<ObjectKey, ImmutableList<EndpointSliceInfo>> byService = ImmutableMap.builder();
        sliceIndex.forEach((service, slices) -> byService.put(service, ImmutableList.copyOf(slices.values())));
        next = new ClusterState(options, ImmutableSortedMap.copyOfSorted(nodes),
            ImmutableSortedMap.copyOfSorted(namespaces), PodTable.of(pods), ImmutableSortedMap.copyOfSorted(services),
            ImmutableSortedMap.copyOfSorted(endpointSlices), ImmutableSortedMap.copyOfSorted(routes), allProblems(),
            byNode.buildOrThrow(),
            byService.buildOrThrow());
      } else {
        next = new ClusterState(options,
            nodesDirty ? ImmutableSortedMap.copyOfSorted(nodes) : previous.nodes,
            namespacesDirty ? ImmutableSortedMap.copyOfSorted(namespaces) : previous.namespaces,
            previous.podTable.with(dirtyPods, pods::get),
            servicesDirty ? ImmutableSortedMap.copyOfSorted(services) : previous.services,
            slicesDirty ? ImmutableSortedMap.copyOfSorted(endpointSlices) : previous.endpointSlices,
            routesDirty ? ImmutableSortedMap.copyOfSorted(routes) : previous.routes,
            problemsDirty ? allProblems() : previous.problems,
            replaceLists(previous.podsByNode, dirtyPodNodes, podIndex),
            replaceLists(previous.slicesByService, dirtySliceServices, sliceIndex));
      }
      last = next;
      dirtyPods.clear();
      dirtyPodNodes.clear();
      dirtySliceServices.clear();
      nodesDirty = false;
      namespacesDirty = false;
      servicesDirty = false;
      slicesDirty = false;
      routesDirty = false;
      problemsDirty = false;
      return next;
    }

    private ImmutableSortedSet<Problem> allProblems() {
      ImmutableSortedSet.Builder<Problem> all = ImmutableSortedSet.naturalOrder();
      problems.values().forEach(all::addAll);
      all.addAll(netnsConflicts.values());
      return all.build();
    }

    private static <K, V> ImmutableMap<K, ImmutableList<V>> replaceLists(
        ImmutableMap<K, ImmutableList<V>> previous, Set<K> dirty, Map<K, ? extends Map<ObjectKey, V>> index) {
      if (dirty.isEmpty()) {
        return previous;
      }
      Map<K, ImmutableList<V>> copy = new HashMap<>(previous);
      for (K key : dirty) {
        Map<ObjectKey, V> values = index.get(key);
        if (values == null || values.isEmpty()) {
          copy.remove(key);
        } else {
          copy.put(key, ImmutableList.copyOf(values.values()));
        }
      }
      return ImmutableMap.copyOf(copy);
    }

    /** Puts (or with null removes) a validated pod, keeping the node index and the change tracking. */
    void storePod(ObjectKey key, PodInfo pod) {
      PodInfo old = pod == null ? pods.remove(key) : pods.put(key, pod);
      if (old == null && pod == null) {
        return;
      }
      if (old != null && old.nodeName().isPresent()) {
        String node = old.nodeName().get();
        TreeMap<ObjectKey, PodInfo> onNode = podIndex.get(node);
        onNode.remove(key);
        if (onNode.isEmpty()) {
          podIndex.remove(node);
        }
        dirtyPodNodes.add(node);
      }
      if (pod != null && pod.nodeName().isPresent()) {
        String node = pod.nodeName().get();
        podIndex.computeIfAbsent(node, n -> new TreeMap<>()).put(key, pod);
        dirtyPodNodes.add(node);
      }
      dirtyPods.add(key);
    }

    /** Puts a validated slice, keeping the service index. */
    void storeSlice(EndpointSliceInfo slice) {
      removeSlice(slice.key());
      endpointSlices.put(slice.key(), slice);
      sliceIndex.computeIfAbsent(slice.serviceKey(), k -> new TreeMap<>()).put(slice.key(), slice);
      dirtySliceServices.add(slice.serviceKey());
      slicesDirty = true;
    }

    private void removeSlice(ObjectKey key) {
      EndpointSliceInfo old = endpointSlices.remove(key);
      if (old == null) {
        return;
      }
      TreeMap<ObjectKey, EndpointSliceInfo> ofService = sliceIndex.get(old.serviceKey());
      ofService.remove(key);
      if (ofService.isEmpty()) {
        sliceIndex.remove(old.serviceKey());
      }
      dirtySliceServices.add(old.serviceKey());
      slicesDirty = true;
    }

    /** Records a problem with an object that never made it into the model (e.g. a converter failure). */
    public Builder reportProblem(Problem problem) {
      problems.computeIfAbsent(problemKey(problem.kind(), problem.namespace(), problem.name()), k -> new ArrayList<>())
          .add(problem);
      problemsDirty = true;
      return this;
    }

    /** Forgets the problems recorded for an object (it was deleted, or replaced by a valid version). */
    public Builder clearProblems(String kind, String namespace, String name) {
      if (problems.remove(problemKey(kind, namespace, name)) != null) {
        problemsDirty = true;
      }
      return this;
    }

    public Builder putNode(NodeInfo node) {
      clearProblems("Node", "", node.name());
      String problem = ModelValidation.subdomainProblem("node name", node.name());
      if (problem != null) {
        reportProblem(new Problem("Node", "", node.name(), problem));
        return this;
      }
      String zoneProblem = node.zone().map(ModelValidation::zoneProblem).orElse(null);
      if (zoneProblem != null) {
        // zones name Envoy resources and the pod listener's format string: a bad one means no zone, loudly
        reportProblem(new Problem("Node", "", node.name(), zoneProblem));
        node = new NodeInfo(node.name(), Optional.empty(), node.region(), node.ready(), node.addresses());
      }
      nodes.put(node.name(), node);
      nodesDirty = true;
      return this;
    }

    /** The pins last reported for {@code node} (empty if none). */
    public ImmutableMap<String, NodePin> pinsOf(String node) {
      return pins.getOrDefault(node, ImmutableMap.of());
    }

    /** Whether the node is in the model (pins are kept only for nodes of the cluster). */
    public boolean hasNode(String name) {
      return nodes.containsKey(name);
    }

    public Builder removeNode(String name) {
      clearProblems("Node", "", name);
      if (nodes.remove(name) != null) {
        nodesDirty = true;
      }
      // the node's agent is gone with it; its pods (if any linger) are decided on what the API shows
      putPins(name, ImmutableMap.of());
      return this;
    }

    public Builder putNamespace(NamespaceInfo namespace) {
      clearProblems("Namespace", "", namespace.name());
      String problem = ModelValidation.namespaceProblem(namespace.name());
      if (problem != null) {
        reportProblem(new Problem("Namespace", "", namespace.name(), problem));
        return this;
      }
      namespaces.put(namespace.name(), namespace);
      namespacesDirty = true;
      reevaluatePodsIn(namespace.name());
      return this;
    }

    public Builder removeNamespace(String name) {
      clearProblems("Namespace", "", name);
      if (namespaces.remove(name) != null) {
        namespacesDirty = true;
        reevaluatePodsIn(name);
      }
      return this;
    }

    public Builder putPod(PodInfo pod) {
      clearProblems("Pod", pod.namespace(), pod.name());
      Consumer<String> report = reason -> reportProblem(problem("Pod", pod.namespace(), pod.name(), reason));
      String problem = firstNonNull(
          ModelValidation.namespaceProblem(pod.namespace()),
          ModelValidation.subdomainProblem("pod name", pod.name()));
      if (problem != null) {
        report.accept(problem);
        forgetPod(pod.key());
        return this;
      }
      decide(pod.withIps(ModelValidation.validIps(pod.ips(), "pod IP", report)));
      return this;
    }

    /**
     * Replaces what {@code node}'s agent reported about the pins on that node (issue 16): a pod the API shows
     * without an IP yet is meshed with its pin's IPs, so its listener can be in place before its app starts, and
     * a pin being released unmeshes its pod even while the API still shows it. The caller must have established
     * that the reporter speaks for {@code node}; pins of pods on other nodes have no effect. Re-evaluates only the
     * node's pods whose pin changed, and marks them as changed by others.
     */
    public Builder putPins(String node, Map<String, NodePin> reported) {
      ImmutableMap<String, NodePin> next = ImmutableMap.copyOf(reported);
      ImmutableMap<String, NodePin> previous = next.isEmpty() ? pins.remove(node) : pins.put(node, next);
      if (previous == null) {
        previous = ImmutableMap.of();
      }
      TreeMap<ObjectKey, PodInfo> onNode = podIndex.get(node);
      if (onNode == null || previous.equals(next)) {
        return this;
      }
      for (PodInfo pod : List.copyOf(onNode.values())) {
        if (!Objects.equals(previous.get(pod.uid()), next.get(pod.uid()))) {
          MeshStatus before = pod.mesh();
          decide(asTheApiShowsIt(pod));
          if (!pods.get(pod.key()).mesh().equals(before) || !pods.get(pod.key()).ips().equals(pod.ips())) {
            podsChangedByOthers.add(pod.key());
          }
        }
      }
      return this;
    }

    /** Evaluates a pod as the API shows it, with its pin's IPs when the API has none, and stores it. */
    private void decide(PodInfo pod) {
      NodePin pin = pod.nodeName().map(pins::get).map(ofNode -> ofNode.get(pod.uid())).orElse(null);
      PodInfo effective = pod;
      if (pin != null && !pin.releasing() && pod.ips().isEmpty() && !pin.ips().isEmpty()) {
        effective = pod.withIps(pin.ips());
        ipsFromPin.add(pod.key());
      } else {
        ipsFromPin.remove(pod.key());
      }
      MeshStatus status = pin != null && pin.releasing()
          ? MeshStatus.notMeshed("its node agent is releasing the pod's network namespace (CNI DEL)")
          : MeshPolicy.evaluate(effective, namespaces.get(pod.namespace()), options);
      storeDecided(effective, status);
    }

    private PodInfo asTheApiShowsIt(PodInfo stored) {
      return ipsFromPin.contains(stored.key()) ? stored.withIps(ImmutableList.of()) : stored;
    }

    public Builder removePod(ObjectKey key) {
      clearProblems("Pod", key.namespace(), key.name());
      ipsFromPin.remove(key);
      forgetPod(key);
      return this;
    }

    /**
     * The pods whose mesh status changed since the last call although no event for them was applied: a pod that
     * named the same netns path as they did came, changed or went. A writer that tracks changes by the objects it
     * applied must treat these as changed too. Clears the set.
     */
    public Set<ObjectKey> takePodsChangedByOthers() {
      if (podsChangedByOthers.isEmpty()) {
        return Set.of();
      }
      Set<ObjectKey> changed = Set.copyOf(podsChangedByOthers);
      podsChangedByOthers.clear();
      return changed;
    }

    /**
     * Stores a pod with its policy decision, except that in annotation netns mode a path that another meshed pod
     * of the same node also names is refused for all of them (and granted again to the one left when the others
     * go). Refusing all, rather than letting the older pod keep the path, is what stops a pod from taking over
     * a namespace it named first, before the pod that really owns it existed. Costs O(pods naming the path).
     */
    void storeDecided(PodInfo pod, MeshStatus decision) {
      ObjectKey key = pod.key();
      storePod(key, pod.withMesh(decision));
      if (options.netnsMode() == NetnsMode.TEMPLATE) {
        return; // the path holds the pod UID, which the API server gives to one pod only
      }
      NetnsClaims.Claim claim = decision.meshed()
          ? new NetnsClaims.Claim(pod.nodeName().orElseThrow(), decision.netnsPath().orElseThrow())
          : null;
      NetnsClaims.Claim previous = netnsClaims.set(key, claim);
      if (previous != null && !previous.equals(claim)) {
        settle(previous, key);
      }
      if (claim == null) {
        setNetnsConflict(key, null);
      } else {
        settle(claim, key);
      }
    }

    private void forgetPod(ObjectKey key) {
      NetnsClaims.Claim previous = netnsClaims.set(key, null);
      setNetnsConflict(key, null);
      storePod(key, null);
      if (previous != null) {
        settle(previous, key);
      }
    }

    /**
     * Gives every pod naming the path its status: the path when it is the only one, refused otherwise. The pod
     * whose change caused this ({@code cause}) is the writer's to track; any other whose status flips is recorded.
     */
    private void settle(NetnsClaims.Claim claim, ObjectKey cause) {
      NavigableSet<ObjectKey> claimants = netnsClaims.claimants(claim);
      for (ObjectKey member : claimants) {
        MeshStatus status = NetnsClaims.statusOf(member, claim, claimants);
        PodInfo current = pods.get(member);
        if (!current.mesh().equals(status)) {
          storePod(member, current.withMesh(status));
          if (!member.equals(cause)) {
            podsChangedByOthers.add(member);
          }
        }
        setNetnsConflict(member,
            status.meshed() ? null : problem("Pod", member.namespace(), member.name(), status.reason()));
      }
    }

    private void setNetnsConflict(ObjectKey key, Problem problem) {
      Problem previous = problem == null ? netnsConflicts.remove(key) : netnsConflicts.put(key, problem);
      if (!Objects.equals(previous, problem)) {
        problemsDirty = true;
      }
    }

    public Builder putService(ServiceInfo service) {
      clearProblems("Service", service.namespace(), service.name());
      Consumer<String> report =
          reason -> reportProblem(problem("Service", service.namespace(), service.name(), reason));
      String problem = firstNonNull(
          ModelValidation.namespaceProblem(service.namespace()),
          ModelValidation.serviceNameProblem(service.name()));
      if (problem != null) {
        report.accept(problem);
        if (services.remove(service.key()) != null) {
          servicesDirty = true;
        }
        return this;
      }
      ServiceInfo valid =
          service
              .withClusterIps(ModelValidation.validIps(service.clusterIps(), "cluster IP", report))
              .withPorts(ModelValidation.validServicePorts(service.ports(), report));
      services.put(valid.key(), valid);
      servicesDirty = true;
      return this;
    }

    public Builder removeService(ObjectKey key) {
      clearProblems("Service", key.namespace(), key.name());
      if (services.remove(key) != null) {
        servicesDirty = true;
      }
      return this;
    }

    /**
     * Puts a route. One that breaks the CRD's bounds or syntax ({@link RouteValidation}) is kept without rules,
     * so its status can tell why, and reported as a problem; one with a bad name is only reported.
     */
    public Builder putRoute(MeshRoute route) {
      String kind = route.kind().kindName();
      clearProblems(kind, route.namespace(), route.name());
      String problem = firstNonNull(
          ModelValidation.namespaceProblem(route.namespace()),
          ModelValidation.subdomainProblem("route name", route.name()));
      if (problem != null) {
        reportProblem(problem(kind, route.namespace(), route.name(), problem));
        removeRouteOnly(route.key());
        return this;
      }
      MeshRoute valid = RouteValidation.validate(route);
      if (valid.rejected() != null) {
        reportProblem(problem(kind, route.namespace(), route.name(), valid.rejected()));
      }
      routes.put(valid.key(), valid);
      routesDirty = true;
      return this;
    }

    public Builder removeRoute(MeshRoute.Key key) {
      clearProblems(key.kind().kindName(), key.object().namespace(), key.object().name());
      removeRouteOnly(key);
      return this;
    }

    /** The route stored under {@code key}, if any. */
    public Optional<MeshRoute> route(MeshRoute.Key key) {
      return Optional.ofNullable(routes.get(key));
    }

    private void removeRouteOnly(MeshRoute.Key key) {
      if (routes.remove(key) != null) {
        routesDirty = true;
      }
    }

    public Builder putEndpointSlice(EndpointSliceInfo slice) {
      clearProblems("EndpointSlice", slice.namespace(), slice.name());
      Consumer<String> report =
          reason -> reportProblem(problem("EndpointSlice", slice.namespace(), slice.name(), reason));
      String problem = firstNonNull(
          ModelValidation.namespaceProblem(slice.namespace()),
          ModelValidation.subdomainProblem("slice name", slice.name()),
          slice.serviceName().isEmpty() ? "slice has no kubernetes.io/service-name label" : null);
      if (problem != null) {
        report.accept(problem);
        removeSlice(slice.key());
        return this;
      }
      ImmutableList.Builder<EndpointPort> ports = ImmutableList.builder();
      for (EndpointPort port : slice.ports()) {
        if (ModelValidation.validPort(port.port())) {
          ports.add(port);
        } else {
          report.accept("endpoint port " + ModelValidation.truncate(port.name()) + ":" + port.port()
              + " is out of range 1-65535");
        }
      }
      ImmutableList.Builder<EndpointInfo> endpoints = ImmutableList.builder();
      for (EndpointInfo endpoint : slice.endpoints()) {
        ImmutableList<String> addresses =
            slice.addressType() == AddressType.FQDN
                ? endpoint.addresses()
                : ModelValidation.validIps(endpoint.addresses(), "endpoint address", report);
        if (!addresses.isEmpty()) {
          endpoints.add(new EndpointInfo(addresses, endpoint.ready(), endpoint.serving(), endpoint.terminating(),
              endpoint.nodeName(), endpoint.zone(), endpoint.targetPod()));
        }
      }
      EndpointSliceInfo valid = new EndpointSliceInfo(slice.namespace(), slice.name(), slice.serviceName(),
          slice.addressType(), ports.build(), endpoints.build());
      storeSlice(valid);
      return this;
    }

    public Builder removeEndpointSlice(ObjectKey key) {
      clearProblems("EndpointSlice", key.namespace(), key.name());
      removeSlice(key);
      return this;
    }

    private void reevaluatePodsIn(String namespace) {
      // keys sort by namespace first: the pods of one namespace are one contiguous range
      List<PodInfo> inNamespace = new ArrayList<>(
          pods.subMap(ObjectKey.of(namespace, ""), true, ObjectKey.of(namespace + "\u0000", ""), false).values());
      inNamespace.forEach(pod -> decide(asTheApiShowsIt(pod)));
    }

    private static Problem problem(String kind, String namespace, String name, String reason) {
      return new Problem(kind, namespace, name, reason);
    }

    private static String firstNonNull(String... values) {
      for (String value : values) {
        if (value != null) {
          return value;
        }
      }
      return null;
    }
  }
}
