package io.nodemesh.demo;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodIPBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --demo}: an embedded Kubernetes API (fabric8's mock server in CRUD mode, with the discovery documents kubectl
 * needs) seeded with a small cluster — 3 nodes, 6 services (one gRPC), ~20 pods — and a gentle churn (a pod comes or
 * goes every few seconds). The mock has no controllers, so this class also plays the scheduler and kubelet (a pod
 * without a node is placed on a demo node, given an IP and marked Running) and the EndpointSlice controller (one
 * slice per Service with a selector), for every pod and Service, including those a user creates with kubectl.
 */
public final class DemoCluster implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DemoCluster.class);
  static final String NAMESPACE = "demo";
  static final List<String> NODES = List.of("node-a", "node-b", "node-c");
  private static final String MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
  private static final String CONTROLLER_NAME = "demo.nodemesh.io";
  private static final Duration CHURN_PERIOD = Duration.ofSeconds(4);
  private static final Duration API_STOP_WAIT = Duration.ofSeconds(1);
  /** The mock logs every request through java.util.logging; held strongly so the level sticks. */
  private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  private record App(String name, String portName, int port, String appProtocol, int replicas) {}

  private static final List<App> APPS = List.of(
      new App("frontend", "http", 80, "http", 4),
      new App("checkout", "grpc", 50051, "grpc", 4),
      new App("cart", "http", 8080, null, 3),
      new App("catalog", "http2-api", 9090, null, 3),
      new App("payments", "tcp-pay", 7000, null, 3),
      new App("redis", "tcp-redis", 6379, null, 2));

  private final KubernetesMockServer server;
  private final KubernetesClient client;
  /** The demo's one thread: churn and controllers both write through it, so they never race each other. */
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "nodemesh-demo");
        thread.setDaemon(true);
        return thread;
      });
  private final AtomicInteger podCounter = new AtomicInteger();
  private final AtomicInteger churnStep = new AtomicInteger();
  private final AtomicBoolean reconcilePending = new AtomicBoolean();
  private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
  private Path kubeconfig;

  private DemoCluster(KubernetesMockServer server) {
    this.server = server;
    this.client = server.createClient();
  }

  /** Starts the mock API on 127.0.0.1 (a free port), seeds it, and starts the churn. */
  public static DemoCluster start() throws Exception {
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    // The mock's vert.x event loop blocks for seconds closing a watch while events are queued for it (fabric8's
    // WatchEventsListener.onClosed awaits its sender), and vert.x then logs stack traces: the demo's API, not the
    // control plane, so demo mode keeps vert.x's blocked-thread warnings to errors.
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.vertx.core.impl.BlockedThreadChecker"))
        .setLevel(ch.qos.logback.classic.Level.ERROR);
    KubernetesMockServer server = new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), new DemoApiDispatcher(), false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    DemoCluster demo = new DemoCluster(server);
    demo.seed();
    demo.startControllers();
    demo.executor.scheduleWithFixedDelay(demo::churnOnce, CHURN_PERIOD.toMillis(), CHURN_PERIOD.toMillis(),
        TimeUnit.MILLISECONDS);
    return demo;
  }

  /** A client for the embedded API, configured like any other fabric8 client. */
  public KubernetesClient client() {
    return client;
  }

  /**
   * A kubeconfig for the embedded API (context namespace {@code demo}), written once into a private temporary
   * directory and removed on close: {@code export KUBECONFIG=<it>} and plain kubectl commands reach the demo.
   */
  public synchronized Path kubeconfig() throws IOException {
    if (kubeconfig == null) {
      Path dir = Files.createTempDirectory("nodemesh-demo-");
      kubeconfig = Files.writeString(dir.resolve("kubeconfig"), String.join("\n",
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "- name: nodemesh-demo",
          "  cluster:",
          "    server: " + url(),
          "users:",
          "- name: nodemesh-demo",
          "  user: {}",
          "contexts:",
          "- name: nodemesh-demo",
          "  context:",
          "    cluster: nodemesh-demo",
          "    user: nodemesh-demo",
          "    namespace: " + NAMESPACE,
          "current-context: nodemesh-demo",
          ""), StandardCharsets.UTF_8);
    }
    return kubeconfig;
  }

  /** The embedded API's URL without a trailing slash, for {@code kubectl --server=<url>} or {@code curl <url>/api/v1/pods}. */
  public String url() {
    String url = client.getMasterUrl().toString();
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  private void seed() {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE)
        .addToLabels("nodemesh.io/mesh", "enabled").endMetadata().build()).create();
    for (int i = 0; i < NODES.size(); i++) {
      client.nodes().resource(new NodeBuilder().withNewMetadata().withName(NODES.get(i))
              .addToLabels("topology.kubernetes.io/zone", "zone-" + (char) ('a' + i))
              .addToLabels("topology.kubernetes.io/region", "demo-region").endMetadata()
          .withNewStatus().addNewCondition().withType("Ready").withStatus("True").endCondition()
              .addNewAddress().withType("InternalIP").withAddress("127.0.1." + (i + 1)).endAddress().endStatus()
          .build()).create();
    }
    for (int i = 0; i < APPS.size(); i++) {
      App app = APPS.get(i);
      ServicePortBuilder port = new ServicePortBuilder().withName(app.portName()).withPort(app.port())
          .withProtocol("TCP").withNewTargetPort(app.port());
      if (app.appProtocol() != null) {
        port.withAppProtocol(app.appProtocol());
      }
      client.services().inNamespace(NAMESPACE).resource(new ServiceBuilder()
          .withNewMetadata().withName(app.name()).withNamespace(NAMESPACE).endMetadata()
          .withNewSpec().withClusterIP("10.96.0." + (10 + i)).withClusterIPs("10.96.0." + (10 + i))
              .addToSelector("app", app.name()).withPorts(port.build()).endSpec()
          .build()).create();
      for (int r = 0; r < app.replicas(); r++) {
        createPod(app);
      }
    }
    reconcile();
    log.info("demo cluster seeded: {} nodes, {} services, {} pods in namespace {}", NODES.size(), APPS.size(),
        podCounter.get(), NAMESPACE);
  }

  private void createPod(App app) {
    int n = podCounter.incrementAndGet();
    String node = NODES.get(n % NODES.size());
    client.pods().inNamespace(NAMESPACE).resource(new PodBuilder()
        .withNewMetadata().withName(app.name() + "-" + n).withNamespace(NAMESPACE)
            .withUid(UUID.nameUUIDFromBytes(("demo-pod-" + n).getBytes(StandardCharsets.UTF_8))
                .toString())
            .addToLabels("app", app.name()).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("demo/" + app.name())
            .endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP(podIp(n)).addNewPodIP().withIp(podIp(n)).endPodIP()
            .endStatus()
        .build()).create();
  }

  private static String podIp(int n) {
    return "10.244." + (n / 250) + "." + (n % 250 + 2);
  }

  /**
   * Alternates: add a pod to some app, then remove that app's newest pod again. The seeded pods stay, so the
   * names the guide prints keep working while pods come and go.
   */
  private void churnOnce() {
    try {
      int step = churnStep.getAndIncrement();
      App app = APPS.get((step / 2) % APPS.size());
      if (step % 2 == 0) {
        createPod(app);
        log.info("demo churn: added a pod to {}", app.name());
      } else {
        // only the demo's own pods (name-ordinal): pods a user applied with kubectl stay until the user deletes them
        List<Pod> pods = client.pods().inNamespace(NAMESPACE).withLabel("app", app.name()).list().getItems().stream()
            .filter(pod -> pod.getMetadata().getName().matches(Pattern.quote(app.name()) + "-\\d+"))
            .sorted(Comparator.comparingInt(DemoCluster::ordinal).reversed()).toList();
        if (pods.size() > app.replicas()) {
          client.pods().inNamespace(NAMESPACE).withName(pods.get(0).getMetadata().getName()).delete();
          log.info("demo churn: removed pod {}", pods.get(0).getMetadata().getName());
        }
      }
    } catch (RuntimeException e) {
      log.warn("demo churn step failed; trying again next time", e);
    }
  }

  private static int ordinal(Pod pod) {
    String name = pod.getMetadata().getName();
    return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
  }

  /** Watches pods and services; any change schedules one reconcile pass on the demo's thread. */
  private void startControllers() {
    ResourceEventHandler<HasMetadata> onChange = new ResourceEventHandler<>() {
      @Override
      public void onAdd(HasMetadata object) {
        requestReconcile();
      }

      @Override
      public void onUpdate(HasMetadata before, HasMetadata after) {
        requestReconcile();
      }

      @Override
      public void onDelete(HasMetadata object, boolean finalStateUnknown) {
        requestReconcile();
      }
    };
    informers.add(client.pods().inAnyNamespace().inform(cast(onChange)));
    informers.add(client.services().inAnyNamespace().inform(cast(onChange)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends HasMetadata> ResourceEventHandler<T> cast(ResourceEventHandler<HasMetadata> handler) {
    return (ResourceEventHandler<T>) handler;
  }

  private void requestReconcile() {
    if (reconcilePending.compareAndSet(false, true)) {
      executor.execute(() -> {
        reconcilePending.set(false);
        try {
          reconcile();
        } catch (RuntimeException e) {
          if (executor.isShutdown()) {
            return; // interrupted by stopWriting(): nothing failed
          }
          log.warn("demo controllers: reconcile failed ({}); trying again on the next change", e.toString());
        }
      });
    }
  }

  /** One pass of scheduler, kubelet and EndpointSlice controller over the whole demo cluster. */
  private void reconcile() {
    List<Pod> pods = client.pods().inAnyNamespace().list().getItems();
    Map<String, Long> load = new HashMap<>();
    NODES.forEach(node -> load.put(node, 0L));
    pods.stream().map(pod -> pod.getSpec() == null ? null : pod.getSpec().getNodeName())
        .filter(load::containsKey).forEach(node -> load.merge(node, 1L, Long::sum));
    List<Pod> running = new ArrayList<>();
    for (Pod pod : pods) {
      Pod placed;
      try {
        placed = startIfUnscheduled(pod, load);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404 && e.getCode() != 409) {
          throw e;
        }
        // deleted or changed since the list (kubectl is faster than this loop): the change's event brings us back
        continue;
      }
      if (placed.getStatus() != null && placed.getStatus().getPodIP() != null
          && placed.getMetadata().getDeletionTimestamp() == null) {
        running.add(placed);
      }
    }
    Set<String> wantedSlices = new HashSet<>();
    for (Service service : client.services().inAnyNamespace().list().getItems()) {
      Map<String, String> selector = service.getSpec() == null ? null : service.getSpec().getSelector();
      if (selector == null || selector.isEmpty() || service.getSpec().getPorts() == null) {
        continue;
      }
      EndpointSlice slice = sliceFor(service, running);
      wantedSlices.add(slice.getMetadata().getNamespace() + "/" + slice.getMetadata().getName());
      EndpointSlice existing = client.discovery().v1().endpointSlices().inNamespace(slice.getMetadata().getNamespace())
          .withName(slice.getMetadata().getName()).get();
      if (existing == null || !Objects.equals(existing.getEndpoints(), slice.getEndpoints())
          || !Objects.equals(existing.getPorts(), slice.getPorts())) {
        client.resource(slice).createOr(NonDeletingOperation::update);
      }
    }
    for (EndpointSlice slice : client.discovery().v1().endpointSlices().inAnyNamespace()
        .withLabel(MANAGED_BY, CONTROLLER_NAME).list().getItems()) {
      if (!wantedSlices.contains(slice.getMetadata().getNamespace() + "/" + slice.getMetadata().getName())) {
        client.resource(slice).delete();
      }
    }
  }

  /**
   * The scheduler and kubelet for a pod nobody placed: the demo node with the fewest pods (counting the ones this
   * pass placed), a fresh IP, Running. Pods on nodes the demo does not run (tests add their own) are left alone,
   * as their kubelet would.
   */
  private Pod startIfUnscheduled(Pod pod, Map<String, Long> load) {
    String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    boolean needsNode = node == null || node.isEmpty();
    boolean needsIp = pod.getStatus() == null || pod.getStatus().getPodIP() == null;
    if (pod.getMetadata().getDeletionTimestamp() != null || !(needsNode || needsIp && NODES.contains(node))) {
      return pod;
    }
    String placedOn = needsNode ? NODES.stream().min(Comparator.comparingLong(load::get)).orElseThrow() : node;
    String namespace = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    var resource = client.pods().inNamespace(namespace).withName(name);
    if (needsNode) {
      resource.edit(current -> new PodBuilder(current).editOrNewSpec().withNodeName(placedOn).endSpec().build());
      load.merge(placedOn, 1L, Long::sum);
    }
    String ip = podIp(podCounter.incrementAndGet());
    Pod started = resource.editStatus(current -> new PodBuilder(current).editOrNewStatus().withPhase("Running")
        .withPodIP(ip).withPodIPs(new PodIPBuilder().withIp(ip).build()).endStatus().build());
    log.info("demo kubelet: started pod {}/{} on {} with IP {}", namespace, name, placedOn, ip);
    return started;
  }

  /** What the EndpointSlice controller would write: one slice with every running pod the service selects. */
  private static EndpointSlice sliceFor(Service service, List<Pod> running) {
    String namespace = service.getMetadata().getNamespace();
    Map<String, String> selector = service.getSpec().getSelector();
    EndpointSliceBuilder slice = new EndpointSliceBuilder()
        .withNewMetadata().withName(service.getMetadata().getName() + "-demo").withNamespace(namespace)
            .addToLabels("kubernetes.io/service-name", service.getMetadata().getName())
            .addToLabels(MANAGED_BY, CONTROLLER_NAME).endMetadata()
        .withAddressType("IPv4");
    for (ServicePort port : service.getSpec().getPorts()) {
      IntOrString target = port.getTargetPort();
      int number = target != null && target.getIntVal() != null ? target.getIntVal() : port.getPort();
      slice.addToPorts(new EndpointPortBuilder().withName(port.getName()).withPort(number)
          .withProtocol(port.getProtocol() == null ? "TCP" : port.getProtocol())
          .withAppProtocol(port.getAppProtocol()).build());
    }
    running.stream()
        .filter(pod -> namespace.equals(pod.getMetadata().getNamespace()))
        .filter(pod -> pod.getMetadata().getLabels() != null
            && pod.getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
        .sorted(Comparator.comparing(pod -> pod.getMetadata().getName()))
        .forEach(pod -> {
          String node = pod.getSpec().getNodeName();
          int zone = NODES.indexOf(node);
          slice.addToEndpoints(new EndpointBuilder().withAddresses(pod.getStatus().getPodIP())
              .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
              .withNodeName(node).withZone(zone < 0 ? null : "zone-" + (char) ('a' + zone))
              .withNewTargetRef().withKind("Pod").withName(pod.getMetadata().getName()).withNamespace(namespace)
                  .endTargetRef()
              .build());
        });
    return slice.build();
  }

  /**
   * Stops the demo's own writers (churn, controllers) so that no watch event is in flight when the control plane's
   * watches close: fabric8's mock blocks its event loop closing a watch with events queued (WatchEventsListener).
   */
  public void stopWriting() {
    informers.forEach(SharedIndexInformer::close);
    executor.shutdownNow();
  }

  @Override
  public void close() {
    stopWriting();
    client.close();
    // the mock waits up to 10 s for its clients' open connections (kubectl get -w, keep-alive) to go; the demo
    // is ending, so it gets a short while and the rest happens (or the JVM exits) without us
    Thread destroy = new Thread(server::destroy, "nodemesh-demo-api-stop");
    destroy.setDaemon(true);
    destroy.start();
    try {
      destroy.join(API_STOP_WAIT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      if (kubeconfig != null) {
        try {
          Files.deleteIfExists(kubeconfig);
          Files.deleteIfExists(kubeconfig.getParent());
        } catch (IOException e) {
          log.debug("demo kubeconfig {} not removed: {}", kubeconfig, e.toString());
        }
      }
    }
  }
}
