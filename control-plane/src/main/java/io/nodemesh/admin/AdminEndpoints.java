package io.nodemesh.admin;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.Any;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump.DynamicCluster;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump.DynamicListener;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump.DynamicListenerState;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.nodemesh.api.admin.v1.ClientStatus;
import io.nodemesh.api.admin.v1.EnvoyAck;
import io.nodemesh.api.admin.v1.PodList;
import io.nodemesh.api.admin.v1.PodStatus;
import io.nodemesh.api.admin.v1.SyncState;
import io.nodemesh.api.admin.v1.TypeStatus;
import io.nodemesh.api.config.v1.ControlPlaneConfig;
import io.nodemesh.api.config.v1.Setting;
import io.nodemesh.api.envoy.EnvoyTypes;
import io.nodemesh.flags.Configuration;
import io.nodemesh.flags.Flag;
import io.nodemesh.http.AdminServer.Response;
import io.nodemesh.http.AdminServer;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.k8s.WatchHealth;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.Problem;
import io.nodemesh.model.RouteResolution;
import io.nodemesh.pipeline.TranslationPipeline;
import io.nodemesh.translate.NodeNames;
import io.nodemesh.translate.PodLimits;
import io.nodemesh.translate.PortProtocol;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.Quarantine;
import io.nodemesh.xds.Resource;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.StoreSnapshot;
import io.nodemesh.xds.XdsServer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The admin endpoints of ARCHITECTURE.md §7, each answering from immutable snapshots: the pipeline's view, the store's
 * snapshot, the xDS server's per-stream status and the watchers' health. Unknown nodes and pods give 404.
 */
public final class AdminEndpoints {

  /** Pods listed by one {@code /debug/pods} answer at most; the filters narrow it. */
  static final int MAX_LISTED_PODS = 2000;
  /** Routes listed by one {@code /debug/routes} answer at most; {@code ?namespace=} narrows it. */
  static final int MAX_LISTED_ROUTES = 2000;

  private static final JsonFormat.Printer PROTO_JSON =
      JsonFormat.printer().includingDefaultValueFields().preservingProtoFieldNames();

  private final Configuration settings;
  private final Supplier<KubernetesWatchers> watchers;
  private final TranslationPipeline pipeline;
  private final XdsServer xds;
  private final BooleanSupplier xdsServing;
  private final ConvergenceTracker convergence;
  private final ControlPlaneMetrics metrics;

  public AdminEndpoints(Configuration settings, Supplier<KubernetesWatchers> watchers, TranslationPipeline pipeline,
      XdsServer xds, BooleanSupplier xdsServing, ConvergenceTracker convergence, ControlPlaneMetrics metrics) {
    this.settings = settings;
    this.watchers = watchers;
    this.pipeline = pipeline;
    this.xds = xds;
    this.xdsServing = xdsServing;
    this.convergence = convergence;
    this.metrics = metrics;
  }

  /**
   * Registers {@code /healthz}, {@code /readyz} and {@code /metrics} on both listeners, and the {@code /debug}
   * endpoints, which show every node's configuration and every pod's network namespace, on the debug listener only.
   */
  public void registerOn(AdminServer probe, AdminServer debug) {
    registerProbes(probe);
    debug.registerIndex();
    registerProbes(debug);
    debug
        .register("/debug/config", "every configuration knob: value in force, source, default, description",
            (p, q) -> proto(config()))
        .register("/debug/state", "model counts, input problems, translation problems, watcher health, store sizes",
            (p, q) -> Response.json(state()))
        .register("/debug/syncz", "every connected xDS client: node, kind, authorization, per type sent/ACKed version, NACK, quarantined"
                + " resources, state",
            (p, q) -> proto(SyncStatusMessages.of(xds.clients())))
        .register("/debug/nodes", "every node: zone, pods (meshed/total), resource counts, clients and sync state",
            (p, q) -> Response.json(nodes()))
        .register("/debug/nodes/{node}/config", "one node's listeners, clusters, endpoints and routes in Envoy's"
                + " config_dump shape (envoy.admin.v3.ConfigDump), as the control plane holds them",
            (p, q) -> nodeConfig(p.get("node")))
        .register("/debug/pods", "pods, filtered by ?node= and ?namespace=: meshed or why not, and per Envoy of"
                + " the node whether it ACKed the pod's resources (at most " + MAX_LISTED_PODS + ")",
            (p, q) -> pods(q))
        .register("/debug/pods/{namespace}/{name}",
            "one pod: meshed or why not, its resources, whether its node's Envoys ACKed them, and any they rejected"
                + " (quarantined)",
            (p, q) -> pod(ObjectKey.of(p.get("namespace"), p.get("name"))))
        .register("/debug/routes", "HTTPRoutes and GRPCRoutes attached to Services, filtered by ?namespace=: per"
                + " parent the status conditions this control plane computes (and writes when it leads), the service"
                + " ports they route (at most " + MAX_LISTED_ROUTES + ")",
            (p, q) -> Response.json(routes(q.getOrDefault("namespace", ""))));
  }

  private void registerProbes(AdminServer server) {
    server
        .register("/healthz", "liveness: the process is up and answering", (p, q) -> Response.json(Map.of("status", "ok")))
        .register("/readyz", "readiness: informers synced and xDS serving (503 until then); shows API server outages",
            (p, q) -> readyz())
        .register("/metrics", "Prometheus metrics (text format)",
            (p, q) -> Response.text(metrics.contentType(), metrics.scrape()));
  }

  private Response readyz() {
    KubernetesWatchers current = watchers.get();
    WatchHealth health = current == null ? null : current.health();
    boolean synced = health != null && health.synced();
    boolean serving = xdsServing.getAsBoolean();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("ready", synced && serving);
    body.put("informers_synced", synced);
    body.put("xds_serving", serving);
    body.put("api_server", health == null ? "not connected yet"
        : health.apiServerReachable() ? "reachable"
        : (synced ? "unreachable: serving the last good config ("
            : "unreachable and never synced: there is no config to serve yet (")
            + health.lastError().orElse("no watch open") + ")");
    // an API server outage does not make us unready: Envoys keep the last good config from us
    return Response.json(synced && serving ? 200 : 503, body);
  }

  private ControlPlaneConfig config() {
    ControlPlaneConfig.Builder config = ControlPlaneConfig.newBuilder();
    for (Flag<?> flag : settings.flags()) {
      config.addSettings(Setting.newBuilder()
          .setName(flag.name())
          .setValue(settings.text(flag))
          .setDefaultValue(flag.defaultValue())
          .setEnv(flag.env())
          .setDescription(flag.description() + " [" + settings.source(flag) + "; accepts " + flag.accepts() + "]"));
    }
    return config.build();
  }

  private List<ClientStatus> clientsOfNode(String nodeName) {
    return xds.clientsOfNode(nodeName).stream().map(SyncStatusMessages::client).toList();
  }

  private Map<String, Object> state() {
    TranslationPipeline.View view = pipeline.view();
    ClusterState state = view.state();
    Map<String, Object> body = new LinkedHashMap<>();
    Map<String, Object> counts = new LinkedHashMap<>();
    counts.put("nodes", state.nodes().size());
    counts.put("namespaces", state.namespaces().size());
    counts.put("pods", state.pods().size());
    counts.put("meshed_pods", state.pods().values().stream().filter(p -> p.mesh().meshed()).count());
    counts.put("services", state.services().size());
    counts.put("endpoint_slices", state.endpointSlices().size());
    body.put("model", counts);
    List<String> problems = new ArrayList<>();
    for (Problem problem : state.problems()) {
      String object = problem.namespace().isEmpty() ? problem.name() : problem.namespace() + "/" + problem.name();
      problems.add(problem.kind() + " " + object + ": " + problem.reason());
    }
    body.put("input_problems", problems);
    Map<String, String> translation = new LinkedHashMap<>();
    view.podProblems().forEach((pod, problem) -> translation.put("Pod " + pod, problem));
    view.serviceProblems().forEach((svc, problem) -> translation.put("Service " + svc, problem));
    body.put("translation_problems", translation);
    StoreSnapshot snapshot = xds.store().snapshot();
    Map<String, Object> store = new LinkedHashMap<>();
    store.put("generation", snapshot.generation());
    for (ResourceType type : ResourceType.values()) {
      store.put(type.shortName(), snapshot.size(type));
    }
    store.put("node_views", snapshot.nodes().size());
    body.put("store", store);
    KubernetesWatchers current = watchers.get();
    if (current != null) {
      WatchHealth health = current.health();
      Map<String, Object> watch = new LinkedHashMap<>();
      watch.put("synced", health.synced());
      watch.put("api_server_reachable", health.apiServerReachable());
      watch.put("watch_errors", health.watchErrors());
      health.lastError().ifPresent(error -> watch.put("last_error", error));
      health.lastErrorAt().ifPresent(at -> watch.put("last_error_at", at));
      Map<String, Object> kinds = new LinkedHashMap<>();
      health.kinds().forEach((kind, status) -> kinds.put(kind.name(), Map.of(
          "has_synced", status.hasSynced(), "watching", status.watching(), "lists", status.lists(),
          "events", status.events())));
      watch.put("informers", kinds);
      body.put("watchers", watch);
    }
    body.put("xds_streams", xds.connectedStreams());
    return body;
  }

  private Map<String, Object> routes(String namespace) {
    ClusterState state = pipeline.view().state();
    ImmutableSortedMap<MeshRoute.Key, ImmutableList<RouteResolution.ParentStatus>> statuses =
        RouteResolution.statuses(state, PortProtocol::carriesHttp);
    List<Map<String, Object>> routes = new ArrayList<>();
    int matched = 0;
    for (MeshRoute route : state.routes().values()) {
      if (!namespace.isEmpty() && !route.namespace().equals(namespace) || ++matched > MAX_LISTED_ROUTES) {
        continue;
      }
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("kind", route.kind().kindName());
      entry.put("namespace", route.namespace());
      entry.put("name", route.name());
      entry.put("generation", route.generation());
      entry.put("rules", route.rules().size());
      if (route.rejected() != null) {
        entry.put("rejected", route.rejected());
      }
      List<Map<String, Object>> parents = new ArrayList<>();
      for (RouteResolution.ParentStatus parent : statuses.getOrDefault(route.key(), ImmutableList.of())) {
        Map<String, Object> parentEntry = new LinkedHashMap<>();
        parentEntry.put("service", parent.parent().service().toString());
        parentEntry.put("port", parent.parent().port());
        parentEntry.put("section_name", parent.parent().sectionName());
        parentEntry.put("conditions", parent.conditions().stream().map(condition -> Map.of(
            "type", condition.type(), "status", condition.status() ? "True" : "False",
            "reason", condition.reason(), "message", condition.message())).toList());
        parents.add(parentEntry);
      }
      entry.put("parents", parents);
      routes.add(entry);
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("routes", routes);
    answer.put("matched", matched);
    answer.put("truncated", matched > MAX_LISTED_ROUTES);
    return answer;
  }

  private List<Map<String, Object>> nodes() {
    TranslationPipeline.View view = pipeline.view();
    Set<String> names = new TreeSet<>(view.state().nodes().keySet());
    names.addAll(view.nodes().keySet());
    List<Map<String, Object>> nodes = new ArrayList<>();
    for (String name : names) {
      Map<String, Object> node = new LinkedHashMap<>();
      Optional<NodeInfo> info = view.state().node(name);
      ImmutableList<PodInfo> pods = view.state().podsOnNode(name);
      node.put("name", name);
      info.flatMap(NodeInfo::zone).ifPresent(zone -> node.put("zone", zone));
      info.map(NodeInfo::ready).ifPresent(ready -> node.put("ready", ready));
      node.put("pods", pods.size());
      node.put("meshed_pods", pods.stream().filter(p -> p.mesh().meshed()).count());
      NodeNames resources = view.nodes().get(name);
      node.put("listeners", resources == null ? 0 : resources.listeners().size());
      node.put("clusters", resources == null ? 0 : resources.clusters().size());
      List<ClientStatus> clients = clientsOfNode(name);
      node.put("clients", clients.size());
      node.put("state", clients.isEmpty() ? "NO_CLIENT" : worst(clients).name());
      nodes.add(node);
    }
    return nodes;
  }

  /**
   * One node's resources as Envoy's {@code /config_dump} shows them ({@code envoy.admin.v3.ConfigDump}: one
   * listeners, clusters, endpoints and routes dump, each resource as a dynamic entry with its version and the
   * time its change was observed), so tools that read Envoy config dumps read ours; it is what the control plane
   * holds for the node, not what the node's Envoy has ACKed ({@code /debug/syncz} says that).
   */
  private Response nodeConfig(String nodeName) throws IOException {
    TranslationPipeline.View view = pipeline.view();
    NodeNames names = view.nodes().get(nodeName);
    if (names == null && view.state().node(nodeName).isEmpty()) {
      return Response.error(404, "unknown node: " + nodeName);
    }
    StoreSnapshot snapshot = xds.store().snapshot();
    ListenersConfigDump.Builder listeners = ListenersConfigDump.newBuilder();
    ClustersConfigDump.Builder clusters = ClustersConfigDump.newBuilder();
    EndpointsConfigDump.Builder endpoints = EndpointsConfigDump.newBuilder();
    RoutesConfigDump.Builder routes = RoutesConfigDump.newBuilder();
    if (names != null) {
      for (Resource listener : lookup(snapshot, ResourceType.LISTENER, names.listeners())) {
        DynamicListenerState.Builder state = DynamicListenerState.newBuilder()
            .setVersionInfo(listener.version()).setListener(listener.any());
        lastUpdated(listener).ifPresent(state::setLastUpdated);
        listeners.addDynamicListeners(DynamicListener.newBuilder().setName(listener.name()).setActiveState(state));
      }
      for (Resource cluster : lookup(snapshot, ResourceType.CLUSTER, names.clusters())) {
        DynamicCluster.Builder entry = DynamicCluster.newBuilder()
            .setVersionInfo(cluster.version()).setCluster(cluster.any());
        lastUpdated(cluster).ifPresent(entry::setLastUpdated);
        clusters.addDynamicActiveClusters(entry);
      }
      for (Resource endpoint : lookup(snapshot, ResourceType.ENDPOINT, names.endpoints())) {
        DynamicEndpointConfig.Builder entry = DynamicEndpointConfig.newBuilder()
            .setVersionInfo(endpoint.version()).setEndpointConfig(endpoint.any());
        lastUpdated(endpoint).ifPresent(entry::setLastUpdated);
        endpoints.addDynamicEndpointConfigs(entry);
      }
      for (Resource route : lookup(snapshot, ResourceType.ROUTE, names.routes())) {
        DynamicRouteConfig.Builder entry = DynamicRouteConfig.newBuilder()
            .setVersionInfo(route.version()).setRouteConfig(route.any());
        lastUpdated(route).ifPresent(entry::setLastUpdated);
        routes.addDynamicRouteConfigs(entry);
      }
    }
    ConfigDump dump = ConfigDump.newBuilder()
        .addConfigs(Any.pack(listeners.build()))
        .addConfigs(Any.pack(clusters.build()))
        .addConfigs(Any.pack(endpoints.build()))
        .addConfigs(Any.pack(routes.build()))
        .build();
    return Response.rawJson(EnvoyTypes.jsonPrinter(List.of(dump)).omittingInsignificantWhitespace().print(dump));
  }

  private Optional<Timestamp> lastUpdated(Resource resource) {
    return convergence.observedAtMillis(resource.generation()).map(Timestamps::fromMillis);
  }

  private static List<Resource> lookup(StoreSnapshot snapshot, ResourceType type, Set<String> names) {
    List<Resource> found = new ArrayList<>();
    for (String name : names) {
      snapshot.get(type, name).ifPresent(found::add);
    }
    return found;
  }

  private Response pod(ObjectKey key) throws IOException {
    TranslationPipeline.View view = pipeline.view();
    Optional<PodInfo> found = view.state().pod(key);
    if (found.isEmpty()) {
      return Response.error(404, "unknown pod: " + key);
    }
    return proto(podStatus(found.get(), view, xds.store().snapshot(), xds.quarantine().all()));
  }

  /** Pods on a node and/or in a namespace (both optional), at most {@link #MAX_LISTED_PODS}. */
  private Response pods(Map<String, String> query) throws IOException {
    String node = query.getOrDefault("node", "");
    String namespace = query.getOrDefault("namespace", "");
    TranslationPipeline.View view = pipeline.view();
    if (!node.isEmpty() && view.state().node(node).isEmpty() && view.state().podsOnNode(node).isEmpty()) {
      return Response.error(404, "unknown node: " + node);
    }
    StoreSnapshot snapshot = xds.store().snapshot();
    List<Quarantine.Entry> quarantined = xds.quarantine().all();
    Iterable<PodInfo> candidates = node.isEmpty() ? view.state().pods().values() : view.state().podsOnNode(node);
    PodList.Builder list = PodList.newBuilder();
    int matched = 0;
    for (PodInfo pod : candidates) {
      if (!namespace.isEmpty() && !pod.namespace().equals(namespace)) {
        continue;
      }
      if (++matched <= MAX_LISTED_PODS) {
        list.addPods(podStatus(pod, view, snapshot, quarantined));
      }
    }
    return proto(list.setMatched(matched).setTruncated(matched > MAX_LISTED_PODS).build());
  }

  private PodStatus podStatus(PodInfo pod, TranslationPipeline.View view, StoreSnapshot snapshot,
      List<Quarantine.Entry> quarantined) {
    ObjectKey key = ObjectKey.of(pod.namespace(), pod.name());
    PodStatus.Builder status = PodStatus.newBuilder()
        .setNamespace(pod.namespace())
        .setName(pod.name())
        .setNodeName(pod.nodeName().orElse(""))
        .setMeshed(pod.mesh().meshed())
        .setReason(view.podProblems().containsKey(key)
            ? pod.mesh().reason() + "; " + view.podProblems().get(key) : pod.mesh().reason())
        .setNetnsPath(pod.mesh().netnsPath().orElse(""));
    PodLimits limits = PodLimits.forPod(pod, pipeline.options().podLimits(), problem -> { });
    int requestRate = pipeline.options().requestRatePerConnection();
    if (pod.mesh().meshed() && (limits.any() || requestRate > 0)) {
      status.setLimits(io.nodemesh.api.admin.v1.PodLimits.newBuilder()
          .setMaxConnections(limits.maxConnections())
          .setMaxConnectionRate(limits.maxConnectionRate())
          .setMaxRequestRatePerConnection(requestRate));
    }
    if (!pod.mesh().meshed()) {
      return status.setNotAckedReason("not meshed").build();
    }
    NodeNames node = pod.nodeName().map(view.nodes()::get).orElse(null);
    if (node == null) {
      return status.setNotAckedReason(pod.nodeName().isEmpty() ? "not scheduled on a node yet"
          : "no configuration for node " + pod.nodeName().get() + " yet").build();
    }
    ObjectKey podKey = ObjectKey.of(pod.namespace(), pod.name());
    String listener = ResourceNames.outboundListener(podKey);
    long listenerGeneration = 0;
    long clusterGeneration = 0;
    if (node.listeners().contains(listener)) {
      status.addListeners(listener);
      listenerGeneration = snapshot.get(ResourceType.LISTENER, listener).map(Resource::generation).orElse(0L);
    }
    for (String cluster : node.clusters()) {
      if (ResourceNames.isOwnedBy(cluster, podKey)) {
        status.addClusters(cluster);
        clusterGeneration = Math.max(clusterGeneration,
            snapshot.get(ResourceType.CLUSTER, cluster).map(Resource::generation).orElse(0L));
      }
    }
    List<ClientStatus> clients = clientsOfNode(pod.nodeName().get());
    boolean acked = !clients.isEmpty() && !status.getListenersList().isEmpty();
    for (ClientStatus client : clients) {
      boolean clientAcked = ackedAtLeast(client, ResourceType.LISTENER, listenerGeneration)
          && ackedAtLeast(client, ResourceType.CLUSTER, clusterGeneration);
      status.addEnvoys(EnvoyAck.newBuilder()
          .setNodeId(client.getNodeId()).setStreamId(client.getStreamId()).setAcked(clientAcked));
      acked &= clientAcked;
    }
    for (Quarantine.Entry entry : quarantined) {
      boolean podsOwn = ResourceNames.isOwnedBy(entry.name(), podKey);
      boolean stillThatVersion = snapshot.get(entry.type(), entry.name())
          .map(resource -> resource.version().equals(entry.version())).orElse(false);
      if (podsOwn && stillThatVersion) {
        // the node's Envoy rejected this pod's resource and does not have it: not converged
        status.addQuarantined(SyncStatusMessages.quarantined(entry));
        acked = false;
      }
    }
    status.setAcked(acked);
    if (acked) {
      convergence.listenerConvergenceMillis(pod.nodeName().get(), listenerGeneration)
          .ifPresent(millis -> status.setConvergenceMillis((int) Math.min(millis, Integer.MAX_VALUE)));
    } else if (clients.isEmpty()) {
      status.setNotAckedReason("no Envoy connected for node " + pod.nodeName().get());
    } else if (status.getListenersList().isEmpty()) {
      status.setNotAckedReason("no listener for the pod yet (see reason)");
    } else if (status.getQuarantinedCount() > 0) {
      status.setNotAckedReason("an Envoy of the node rejected the pod's configuration (see quarantined)");
    } else {
      status.setNotAckedReason("waiting for the node's Envoys to ACK (see envoys)");
    }
    return status.build();
  }

  private static boolean ackedAtLeast(ClientStatus client, ResourceType type, long generation) {
    if (generation == 0) {
      return true;
    }
    for (TypeStatus typeStatus : client.getTypesList()) {
      if (typeStatus.getTypeUrl().equals(type.typeUrl())) {
        return typeStatus.getAckedGeneration() >= generation;
      }
    }
    return false;
  }

  private static SyncState worst(List<ClientStatus> clients) {
    SyncState worst = SyncState.SYNCED;
    for (ClientStatus client : clients) {
      for (TypeStatus type : client.getTypesList()) {
        if (type.getState() == SyncState.NACKED) {
          return SyncState.NACKED;
        }
        if (type.getState() == SyncState.STALE) {
          worst = SyncState.STALE;
        }
      }
    }
    return worst;
  }

  private static Response proto(MessageOrBuilder message) throws IOException {
    return Response.rawJson(PROTO_JSON.print(message));
  }
}
