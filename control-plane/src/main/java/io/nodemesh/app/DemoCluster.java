package io.nodemesh.app;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --demo}: an embedded Kubernetes API (fabric8's mock server in CRUD mode) seeded with a small cluster —
 * 3 nodes, 6 services (one gRPC), ~20 pods — and a gentle churn (a pod comes or goes every few seconds). The mock
 * has no controllers, so this class also plays the EndpointSlice controller for its services.
 */
public final class DemoCluster implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DemoCluster.class);
  static final String NAMESPACE = "demo";
  static final List<String> NODES = List.of("node-a", "node-b", "node-c");
  private static final Duration CHURN_PERIOD = Duration.ofSeconds(4);
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
  private final ScheduledExecutorService churn =
      Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "nodemesh-demo-churn");
        thread.setDaemon(true);
        return thread;
      });
  private final AtomicInteger podCounter = new AtomicInteger();
  private final AtomicInteger churnStep = new AtomicInteger();

  private DemoCluster(KubernetesMockServer server) {
    this.server = server;
    this.client = server.createClient();
  }

  /** Starts the mock API on 127.0.0.1 (a free port), seeds it, and starts the churn. */
  public static DemoCluster start() throws Exception {
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    KubernetesMockServer server = new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(List.of()), false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    DemoCluster demo = new DemoCluster(server);
    demo.seed();
    demo.churn.scheduleWithFixedDelay(demo::churnOnce, CHURN_PERIOD.toMillis(), CHURN_PERIOD.toMillis(),
        TimeUnit.MILLISECONDS);
    return demo;
  }

  /** A client for the embedded API, configured like any other fabric8 client. */
  public KubernetesClient client() {
    return client;
  }

  /** The embedded API's URL, for a kubectl-like look (e.g. {@code curl <url>/api/v1/pods}). */
  public String url() {
    return client.getMasterUrl().toString();
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
      reconcileSlice(app);
    }
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
        List<Pod> pods = new ArrayList<>(client.pods().inNamespace(NAMESPACE).withLabel("app", app.name()).list()
            .getItems());
        pods.sort((a, b) -> Integer.compare(ordinal(b), ordinal(a)));
        if (pods.size() > app.replicas()) {
          client.pods().inNamespace(NAMESPACE).withName(pods.get(0).getMetadata().getName()).delete();
          log.info("demo churn: removed pod {}", pods.get(0).getMetadata().getName());
        }
      }
      reconcileSlice(app);
    } catch (RuntimeException e) {
      log.warn("demo churn step failed; trying again next time", e);
    }
  }

  private static int ordinal(Pod pod) {
    String name = pod.getMetadata().getName();
    return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
  }

  /** What the EndpointSlice controller would do: one slice with every running pod of the app. */
  private void reconcileSlice(App app) {
    Service service = client.services().inNamespace(NAMESPACE).withName(app.name()).get();
    ServicePort port = service.getSpec().getPorts().get(0);
    EndpointSliceBuilder slice = new EndpointSliceBuilder()
        .withNewMetadata().withName(app.name() + "-demo").withNamespace(NAMESPACE)
            .addToLabels("kubernetes.io/service-name", app.name()).endMetadata()
        .withAddressType("IPv4")
        .withPorts(new EndpointPortBuilder().withName(port.getName()).withPort(app.port()).withProtocol("TCP")
            .withAppProtocol(app.appProtocol()).build());
    for (Pod pod : client.pods().inNamespace(NAMESPACE).withLabel("app", app.name()).list().getItems()) {
      if (pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
        continue;
      }
      String node = pod.getSpec().getNodeName();
      slice.addToEndpoints(new EndpointBuilder().withAddresses(pod.getStatus().getPodIP())
          .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
          .withNodeName(node).withZone("zone-" + (char) ('a' + NODES.indexOf(node)))
          .withNewTargetRef().withKind("Pod").withName(pod.getMetadata().getName()).withNamespace(NAMESPACE)
              .endTargetRef()
          .build());
    }
    EndpointSlice built = slice.build();
    client.resource(built).createOr(NonDeletingOperation::update);
  }

  @Override
  public void close() {
    churn.shutdownNow();
    client.close();
    server.destroy();
  }
}
