package io.nodemesh.bench;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * The synthetic cluster, deterministic for a given {@link BenchConfig}: {@code services} services
 * {@code svc-<i>} (ports grpc 9090, http 8080, tcp 5432) spread over namespaces {@code bench-<n>}; one app per
 * service with {@code pods/services} replicas ({@code svc-<i>-<r>}) spread evenly over {@code nodes} nodes; one
 * EndpointSlice per service listing its app's pods. Every app calls {@code upstreams} services, declared with
 * {@code nodemesh.io/upstreams}: {@code svc-0} (a service every pod calls, like an auth or DNS-ish service)
 * plus {@code upstreams-1} others picked at random per app.
 *
 * <p>Churn pods ({@code churn-<k>}) are extra replicas of a random app on a random node. The benchmark lists
 * each in its service's slice while it lives ({@link #updateEndpoints}), as in a cluster, so a churn event
 * changes its node's listener and that service's endpoints on every node that calls it; the soak and the
 * translation benchmark do not, so there a churn event touches only its node's listener.
 */
final class Workload {

  static final String SCOPE_ANNOTATION = "nodemesh.io/upstreams";
  /** Every ClusterIP of the workload ({@link #clusterIp}) lies in it; no pod IP does. */
  static final String SERVICE_CIDR = "10.96.0.0/16";
  static final String[] PORT_NAMES = {"grpc", "http", "tcp"};
  static final int[] PORTS = {9090, 8080, 5432};
  static final String[] APP_PROTOCOLS = {"grpc", "http", null};
  /** The TCP port of every service (the others are HTTP/gRPC and go through an internal listener). */
  static final int TCP_PORT = 5432;
  /** An HTTP port the soak adds to and removes from services. */
  static final int EXTRA_PORT = 9901;

  final BenchConfig config;
  /** Per pod index: its node index. */
  private final int[] podNode;
  /** Per app (= service) index: the services it calls (always including 0). */
  private final int[][] appUpstreams;
  /** Per node: the app indexes of its pods, in pod order. */
  private final List<List<Integer>> podsOfNode;
  private final Random churnRandom = new Random(7);
  private final AtomicInteger churnCounter = new AtomicInteger();
  /** Per service, the churn pods its slice lists (see {@link #updateEndpoints}). */
  private final Map<Integer, Map<String, ChurnPod>> churnEndpoints = new ConcurrentHashMap<>();

  Workload(BenchConfig config) {
    this.config = config;
    int pods = config.pods();
    int nodes = config.nodes();
    // balanced and shuffled: pod p lands on node order[p] % nodes
    List<Integer> order = new ArrayList<>(pods);
    for (int p = 0; p < pods; p++) {
      order.add(p);
    }
    Collections.shuffle(order, new Random(42));
    podNode = new int[pods];
    podsOfNode = new ArrayList<>(nodes);
    for (int n = 0; n < nodes; n++) {
      podsOfNode.add(new ArrayList<>());
    }
    for (int position = 0; position < pods; position++) {
      int pod = order.get(position);
      podNode[pod] = position % nodes;
    }
    for (int pod = 0; pod < pods; pod++) {
      podsOfNode.get(podNode[pod]).add(pod);
    }
    appUpstreams = new int[config.services()][];
    for (int app = 0; app < config.services(); app++) {
      Random random = new Random(1000L + app);
      Set<Integer> upstreams = new LinkedHashSet<>();
      upstreams.add(0);
      // unscoped (0): a pod may call every service, as pods without the annotation do
      int wanted = config.scoped() ? config.upstreamsPerPod() : config.services();
      for (int service = 1; !config.scoped() && service < config.services(); service++) {
        upstreams.add(service);
      }
      while (upstreams.size() < wanted) {
        upstreams.add(1 + random.nextInt(config.services() - 1));
      }
      appUpstreams[app] = upstreams.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  // ---- names

  static String nodeName(int node) {
    return "node-" + node;
  }

  String namespaceOf(int service) {
    return "bench-" + (service % config.namespaces());
  }

  static String serviceName(int service) {
    return "svc-" + service;
  }

  int appOf(int pod) {
    return pod % config.services();
  }

  String podName(int pod) {
    return serviceName(appOf(pod)) + "-" + (pod / config.services());
  }

  int nodeOf(int pod) {
    return podNode[pod];
  }

  /** The shared cluster / endpoints / route name of a service port, as the translator names it. */
  String servicePortName(int service, int port) {
    return "svc/" + namespaceOf(service) + "/" + serviceName(service) + "/" + port;
  }

  static String listenerName(String namespace, String pod) {
    return "pod/" + namespace + "/" + pod + "/outbound";
  }

  String podListener(int pod) {
    return listenerName(namespaceOf(appOf(pod)), podName(pod));
  }

  static String clusterIp(int service) {
    int n = service + 1;
    return "10.96." + (n >> 8) + "." + (n & 255);
  }

  static String podIp(int pod) {
    int n = pod + 1;
    return "10." + (128 + (n >> 16)) + "." + ((n >> 8) & 255) + "." + (n & 255);
  }

  String scopeAnnotation(int app) {
    StringBuilder scope = new StringBuilder();
    for (int upstream : appUpstreams[app]) {
      if (scope.length() > 0) {
        scope.append(',');
      }
      scope.append(serviceName(upstream)).append('.').append(namespaceOf(upstream));
    }
    return scope.toString();
  }

  int[] upstreamsOf(int app) {
    return appUpstreams[app];
  }

  // ---- expectations

  /** The listeners of a node's seeded pods. */
  Set<String> podListenersOf(int node) {
    Set<String> names = new TreeSet<>();
    for (int pod : podsOfNode.get(node)) {
      names.add(podListener(pod));
    }
    return names;
  }

  /** The listener names a node's Envoy must hold once synced: its pods' and the service layer's. */
  Set<String> expectedListeners(int node) {
    Set<String> names = podListenersOf(node);
    for (int service : servicesCalledFrom(node)) {
      for (int port : PORTS) {
        addServiceLayer(service, port, names, new TreeSet<>());
      }
    }
    return names;
  }

  /** The service-layer clusters a node's Envoy must hold once synced (every port its pods call). */
  Set<String> expectedServiceClusters(int node) {
    Set<String> names = new TreeSet<>();
    for (int service : servicesCalledFrom(node)) {
      for (int port : PORTS) {
        addServiceLayer(service, port, new TreeSet<>(), names);
      }
    }
    return names;
  }

  /**
   * What a node's Envoy holds for one service port its pods call (shared binding, docs/TRANSLATOR.md): the
   * destination cluster {@code dst/{ip}/{port}}, and for an HTTP/gRPC port the internal listener and the shared
   * cluster behind it, both {@code svc/{ns}/{svc}/{port}}.
   */
  void addServiceLayer(int service, int port, Set<String> listeners, Set<String> clusters) {
    clusters.add("dst/" + clusterIp(service) + "/" + port);
    if (port != TCP_PORT) {
      listeners.add(servicePortName(service, port));
      clusters.add(servicePortName(service, port));
    }
  }

  /** The services the seeded pods of a node call. */
  Set<Integer> servicesCalledFrom(int node) {
    Set<Integer> services = new TreeSet<>();
    for (int pod : podsOfNode.get(node)) {
      for (int upstream : appUpstreams[appOf(pod)]) {
        services.add(upstream);
      }
    }
    return services;
  }

  /** Pods (indexes) on a node whose app calls {@code service}. */
  List<Integer> podsCalling(int node, int service) {
    List<Integer> pods = new ArrayList<>();
    for (int pod : podsOfNode.get(node)) {
      for (int upstream : appUpstreams[appOf(pod)]) {
        if (upstream == service) {
          pods.add(pod);
          break;
        }
      }
    }
    return pods;
  }

  /** A service other than svc-0 called by at least one app, chosen deterministically per round. */
  int teamService(int round) {
    // the upstreams of app (round * 37) other than svc-0; every app has at least one when upstreams >= 2
    for (int i = 0; i < config.services(); i++) {
      int app = (round * 37 + i) % config.services();
      if (appUpstreams[app].length > 1) {
        return appUpstreams[app][1 + round % (appUpstreams[app].length - 1)];
      }
    }
    return 1;
  }

  // ---- objects

  Namespace namespace(int index) {
    return new NamespaceBuilder().withNewMetadata().withName("bench-" + index)
        .addToLabels("nodemesh.io/mesh", "enabled").endMetadata().build();
  }

  Node node(int index) {
    return new NodeBuilder().withNewMetadata().withName(nodeName(index))
        .addToLabels("topology.kubernetes.io/zone", "zone-" + (index % 3))
        .addToLabels("topology.kubernetes.io/region", "region-a").endMetadata()
        .withNewStatus().addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
        .build();
  }

  Service service(int index, boolean extraPort) {
    List<ServicePort> ports = new ArrayList<>();
    for (int p = 0; p < PORTS.length; p++) {
      ports.add(servicePort(PORT_NAMES[p], PORTS[p], APP_PROTOCOLS[p]));
    }
    if (extraPort) {
      ports.add(servicePort("admin", EXTRA_PORT, "http"));
    }
    return new ServiceBuilder()
        .withNewMetadata().withNamespace(namespaceOf(index)).withName(serviceName(index)).endMetadata()
        .withNewSpec().withClusterIP(clusterIp(index)).withClusterIPs(clusterIp(index))
            .addToSelector("app", serviceName(index)).withPorts(ports).endSpec()
        .build();
  }

  private static ServicePort servicePort(String name, int port, String appProtocol) {
    ServicePortBuilder builder = new ServicePortBuilder().withName(name).withPort(port).withProtocol("TCP")
        .withTargetPort(new IntOrString(port));
    if (appProtocol != null) {
      builder.withAppProtocol(appProtocol);
    }
    return builder.build();
  }

  /**
   * The service's slice: its seeded pods and the churn pods listed by {@link #updateEndpoints}; {@code notReady}
   * (or -1) is the seeded replica index reported not ready (an endpoint flap).
   */
  EndpointSlice slice(int service, int notReady) {
    List<Endpoint> endpoints = new ArrayList<>();
    int replicas = config.pods() / config.services() + (service < config.pods() % config.services() ? 1 : 0);
    for (int r = 0; r < replicas; r++) {
      int pod = r * config.services() + service;
      endpoints.add(endpoint(podIp(pod), podNode[pod], namespaceOf(service), podName(pod), r != notReady));
    }
    Map<String, ChurnPod> churned = churnEndpoints(service);
    synchronized (churned) {
      for (ChurnPod pod : churned.values()) {
        endpoints.add(endpoint(pod.ip(), pod.node(), pod.namespace(), pod.name(), true));
      }
    }
    EndpointSliceBuilder slice = new EndpointSliceBuilder()
        .withNewMetadata().withNamespace(namespaceOf(service)).withName(serviceName(service) + "-abcde")
            .addToLabels("kubernetes.io/service-name", serviceName(service)).endMetadata()
        .withAddressType("IPv4")
        .withEndpoints(endpoints);
    for (int p = 0; p < PORTS.length; p++) {
      slice.addToPorts(new EndpointPortBuilder().withName(PORT_NAMES[p]).withPort(PORTS[p]).withProtocol("TCP")
          .build());
    }
    return slice.build();
  }

  private static Endpoint endpoint(String ip, int node, String namespace, String pod, boolean ready) {
    return new EndpointBuilder().withAddresses(ip).withNodeName(nodeName(node))
        .withNewTargetRef().withKind("Pod").withNamespace(namespace).withName(pod).endTargetRef()
        .withNewConditions().withReady(ready).withServing(ready).withTerminating(false).endConditions()
        .build();
  }

  /**
   * Lists churn pods of one app in its service's EndpointSlice ({@code listed}) or takes them out, as the
   * EndpointSlice controller does when pods start or go, and hands the new slice to {@code write}; returns what
   * {@code write} returned. The writes of one slice are serialised, so the last one written lists every member.
   */
  <T> T updateEndpoints(int app, Collection<ChurnPod> pods, boolean listed, Function<EndpointSlice, T> write) {
    Map<String, ChurnPod> churned = churnEndpoints(app);
    synchronized (churned) {
      for (ChurnPod pod : pods) {
        if (listed) {
          churned.put(pod.name(), pod);
        } else {
          churned.remove(pod.name());
        }
      }
      return write.apply(slice(app, -1));
    }
  }

  /** The churn pods listed in a service's slice, by name; the map is also the lock for writing that slice. */
  private Map<String, ChurnPod> churnEndpoints(int service) {
    return churnEndpoints.computeIfAbsent(service, s -> new LinkedHashMap<>());
  }

  Pod pod(int index) {
    int app = appOf(index);
    return podObject(namespaceOf(app), podName(index), nodeName(podNode[index]), podIp(index), app);
  }

  private Pod podObject(String namespace, String name, String node, String ip, int app) {
    return new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name)
            .addToLabels("app", serviceName(app))
            .addToAnnotations(config.scoped() ? Map.of(SCOPE_ANNOTATION, scopeAnnotation(app)) : Map.of())
            .endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app:1").endContainer()
            .endSpec()
        .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus()
        .build();
  }

  /**
   * A new churn pod: a replica of a random app on a random node. It is in no slice until
   * {@link #updateEndpoints} lists it.
   */
  ChurnPod nextChurnPod() {
    int k = churnCounter.getAndIncrement();
    int app;
    int node;
    synchronized (churnRandom) {
      app = churnRandom.nextInt(config.services());
      node = churnRandom.nextInt(config.nodes());
    }
    String ip = "10.200." + ((k >> 8) & 255) + "." + (k & 255);
    String namespace = namespaceOf(app);
    String name = "churn-" + k;
    return new ChurnPod(namespace, name, node, app, podObject(namespace, name, nodeName(node), ip, app));
  }

  /** The same churn pod (name, app, IP) scheduled on another node: a StatefulSet pod recreated elsewhere. */
  ChurnPod movedTo(ChurnPod pod, int node) {
    Pod moved = new PodBuilder(pod.pod()).editSpec().withNodeName(nodeName(node)).endSpec()
        .editMetadata().withResourceVersion(null).withUid(null).withCreationTimestamp(null).endMetadata().build();
    return new ChurnPod(pod.namespace(), pod.name(), node, pod.app(), moved);
  }

  record ChurnPod(String namespace, String name, int node, int app, Pod pod) {
    String listener() {
      return listenerName(namespace, name);
    }

    String ip() {
      return pod.getStatus().getPodIP();
    }
  }

  // ---- seeding

  /** Seeding timings, for the report. */
  record SeedTimes(double namespacesNodesServicesSeconds, double slicesSeconds, double podsSeconds, int objects) {
    double totalSeconds() {
      return namespacesNodesServicesSeconds + slicesSeconds + podsSeconds;
    }
  }

  /** Writes every object through the API with a thread pool (the mock takes ~1-2 ms per write). */
  SeedTimes seed(KubernetesClient client) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(config.seedThreads());
    try {
      long start = System.nanoTime();
      List<HasMetadata> first = new ArrayList<>();
      for (int n = 0; n < config.namespaces(); n++) {
        first.add(namespace(n));
      }
      for (int n = 0; n < config.nodes(); n++) {
        first.add(node(n));
      }
      for (int s = 0; s < config.services(); s++) {
        first.add(service(s, false));
      }
      createAll(client, pool, first);
      long afterServices = System.nanoTime();
      List<HasMetadata> slices = new ArrayList<>();
      for (int s = 0; s < config.services(); s++) {
        slices.add(slice(s, -1));
      }
      createAll(client, pool, slices);
      long afterSlices = System.nanoTime();
      List<HasMetadata> pods = new ArrayList<>();
      for (int p = 0; p < config.pods(); p++) {
        pods.add(pod(p));
      }
      createAll(client, pool, pods);
      long end = System.nanoTime();
      return new SeedTimes((afterServices - start) / 1e9, (afterSlices - afterServices) / 1e9,
          (end - afterSlices) / 1e9, first.size() + slices.size() + pods.size());
    } finally {
      pool.shutdownNow();
    }
  }

  private static void createAll(KubernetesClient client, ExecutorService pool, List<HasMetadata> objects)
      throws Exception {
    List<Future<?>> futures = new ArrayList<>(objects.size());
    for (HasMetadata object : objects) {
      futures.add(pool.submit(() -> client.resource(object).create()));
    }
    for (Future<?> future : futures) {
      future.get(10, TimeUnit.MINUTES);
    }
  }
}
