package io.nodemesh.e2e;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.PodIPBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A test-owned Kubernetes API: fabric8's mock server in CRUD mode on 127.0.0.1, plus builders for the objects
 * the control plane watches. The mock has no controllers: tests write EndpointSlices themselves.
 */
public final class MockKubernetes implements AutoCloseable {

  /** The finalizer {@link #terminatePod} adds so the mock keeps a pod with a deletionTimestamp. */
  public static final String HOLD_FINALIZER = "e2e.nodemesh.io/hold";

  private final KubernetesMockServer server;
  private final RestartableCrudDispatcher dispatcher;
  private final KubernetesClient client;

  private MockKubernetes(KubernetesMockServer server, RestartableCrudDispatcher dispatcher) {
    this.server = server;
    this.dispatcher = dispatcher;
    this.client = server.createClient();
  }

  /** Starts on a free loopback port. */
  public static MockKubernetes start() {
    return startOn(0);
  }

  /**
   * Starts with the cluster most end-to-end tests begin from: a meshed namespace and two nodes, node-1 in
   * zone-a and node-2 in zone-b.
   */
  public static MockKubernetes withTwoNodes(String meshedNamespace) {
    MockKubernetes k8s = start();
    k8s.namespace(meshedNamespace, true);
    k8s.node("node-1", "zone-a");
    k8s.node("node-2", "zone-b");
    return k8s;
  }

  /** Starts on a given loopback port (to bring the "same" API server back after an outage). */
  public static MockKubernetes startOn(int port) {
    return serve(new RestartableCrudDispatcher(), port);
  }

  private static MockKubernetes serve(RestartableCrudDispatcher dispatcher, int port) {
    KubernetesMockServer server = new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init(InetAddress.getLoopbackAddress(), port);
    return new MockKubernetes(server, dispatcher);
  }

  /**
   * Stops serving here and serves the same stored objects on {@code port} instead: the way to bring an API
   * server back on its old address with its state already in place (an API server restart keeps etcd), so
   * no client ever lists an empty cluster in between. This instance is closed afterwards.
   *
   * <p>Like a restarted API server, whose watch cache starts empty, the new one answers the first watch per
   * resource path with 410 Gone ("too old resource version"): clients must relist. (The mock keeps no event
   * history: resuming a watch from an old resourceVersion would silently skip what happened meanwhile.)
   */
  public MockKubernetes moveTo(int port) {
    close();
    dispatcher.expireWatches();
    return serve(dispatcher, port);
  }

  /** Makes discovery list the Gateway API's route kinds (the mock stores any kind; discovery needs telling). */
  public MockKubernetes withGatewayApi() {
    dispatcher.serveGatewayApi();
    return this;
  }

  public KubernetesClient client() {
    return client;
  }

  /** The URL for {@code KUBERNETES_MASTER}. */
  public String url() {
    return client.getMasterUrl().toString();
  }

  public int port() {
    return client.getMasterUrl().getPort();
  }

  public void namespace(String name, boolean meshed) {
    NamespaceBuilder namespace = new NamespaceBuilder().withNewMetadata().withName(name).endMetadata();
    if (meshed) {
      namespace.editMetadata().addToLabels("nodemesh.io/mesh", "enabled").endMetadata();
    }
    client.namespaces().resource(namespace.build()).createOr(NonDeletingOperation::update);
  }

  public void node(String name, String zone) {
    client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name)
            .addToLabels("topology.kubernetes.io/zone", zone).endMetadata()
        .withNewStatus().addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
        .build()).createOr(NonDeletingOperation::update);
  }

  /** A running pod with an IP on a node. The mock assigns the UID: read it from the returned pod. */
  public Pod pod(String namespace, String name, String node, String ip, String app) {
    Pod pod = new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name)
            .addToLabels("app", app).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app").endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus()
        .build();
    return client.pods().resource(pod).createOr(NonDeletingOperation::update);
  }

  /** A ClusterIP service with one port selecting {@code app=<name>}. */
  public Service service(String namespace, String name, String clusterIp, String portName, int port,
      String appProtocol) {
    ServicePortBuilder servicePort = new ServicePortBuilder().withName(portName).withPort(port).withProtocol("TCP")
        .withTargetPort(new IntOrString(port));
    if (appProtocol != null) {
      servicePort.withAppProtocol(appProtocol);
    }
    return client.services().resource(new ServiceBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
        .withNewSpec().withClusterIP(clusterIp).withClusterIPs(clusterIp).addToSelector("app", name)
            .withPorts(servicePort.build()).endSpec()
        .build()).createOr(NonDeletingOperation::update);
  }

  /** Writes the service's one EndpointSlice with these ready addresses (what the slice controller would do). */
  public EndpointSlice endpoints(String namespace, String service, String portName, int port, String... ips) {
    EndpointSliceBuilder slice = new EndpointSliceBuilder()
        .withNewMetadata().withNamespace(namespace).withName(service + "-slice")
            .addToLabels("kubernetes.io/service-name", service).endMetadata()
        .withAddressType("IPv4")
        .withPorts(new EndpointPortBuilder().withName(portName).withPort(port).withProtocol("TCP").build());
    for (String ip : ips) {
      slice.addToEndpoints(new EndpointBuilder().withAddresses(ip)
          .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions().build());
    }
    return client.resource(slice.build()).createOr(NonDeletingOperation::update);
  }

  // ---- finer-grained builders for lifecycle scenarios

  /** A service port: TCP, target port = port. */
  public static io.fabric8.kubernetes.api.model.ServicePort servicePort(String name, int port, String appProtocol) {
    return servicePort(name, port, port, appProtocol);
  }

  /** A service port with a distinct target port. */
  public static io.fabric8.kubernetes.api.model.ServicePort servicePort(String name, int port, int targetPort,
      String appProtocol) {
    ServicePortBuilder servicePort = new ServicePortBuilder().withName(name).withPort(port).withProtocol("TCP")
        .withTargetPort(new IntOrString(targetPort));
    if (appProtocol != null) {
      servicePort.withAppProtocol(appProtocol);
    }
    return servicePort.build();
  }

  /** A ClusterIP service selecting {@code app=<name>} with any number of ports (created or replaced). */
  public Service service(String namespace, String name, String clusterIp,
      List<io.fabric8.kubernetes.api.model.ServicePort> ports) {
    return client.services().resource(new ServiceBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
        .withNewSpec().withClusterIP(clusterIp).withClusterIPs(clusterIp).addToSelector("app", name)
            .withPorts(ports).endSpec()
        .build()).createOr(NonDeletingOperation::update);
  }

  /** One endpoint of a slice, as the EndpointSlice controller writes it. */
  public static Endpoint endpoint(String ip, String node, boolean ready, boolean serving, boolean terminating) {
    EndpointBuilder endpoint = new EndpointBuilder().withAddresses(ip)
        .withNewConditions().withReady(ready).withServing(serving).withTerminating(terminating).endConditions();
    if (node != null) {
      endpoint.withNodeName(node);
    }
    return endpoint.build();
  }

  /** A ready endpoint on a node. */
  public static Endpoint ready(String ip, String node) {
    return endpoint(ip, node, true, true, false);
  }

  /** An endpoint of a terminating pod that still serves (graceful shutdown). */
  public static Endpoint terminating(String ip, String node) {
    return endpoint(ip, node, false, true, true);
  }

  /** Writes the service's one EndpointSlice with exactly these endpoints on one named port. */
  public EndpointSlice endpoints(String namespace, String service, String portName, int port, List<Endpoint> endpoints) {
    EndpointSlice slice = new EndpointSliceBuilder()
        .withNewMetadata().withNamespace(namespace).withName(service + "-slice")
            .addToLabels("kubernetes.io/service-name", service).endMetadata()
        .withAddressType("IPv4")
        .withPorts(new EndpointPortBuilder().withName(portName).withPort(port).withProtocol("TCP").build())
        .withEndpoints(endpoints)
        .build();
    return client.resource(slice).createOr(NonDeletingOperation::update);
  }

  /**
   * A pod as the scheduler leaves it: on a node, Pending, no IP yet. It carries {@link #HOLD_FINALIZER} so
   * that {@link #terminatePod} can keep it around while terminating, as a kubelet does during the grace period.
   */
  public Pod pendingPod(String namespace, String name, String node, String app) {
    return createPod(new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).addToLabels("app", app)
            .addToFinalizers(HOLD_FINALIZER).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app").endContainer().endSpec()
        .withNewStatus().withPhase("Pending").endStatus()
        .build());
  }

  /** Creates (or replaces) any pod; returns it as stored, with the UID the mock assigned. */
  public Pod createPod(Pod pod) {
    return client.pods().resource(pod).createOr(NonDeletingOperation::update);
  }

  /** A running pod with an IP, labels {@code app} plus {@code labels}, and annotations. */
  public Pod pod(String namespace, String name, String node, String ip, String app, Map<String, String> labels,
      Map<String, String> annotations) {
    return createPod(new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).addToLabels("app", app).addToLabels(labels)
            .addToAnnotations(annotations).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app").endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus()
        .build());
  }

  /** What the kubelet reports once the sandbox is up: Running with an IP. */
  public Pod podRunning(String namespace, String name, String ip) {
    Pod current = client.pods().inNamespace(namespace).withName(name).get();
    return client.pods().resource(new PodBuilder(current).editStatus().withPhase("Running").withPodIP(ip)
        .withPodIPs(new PodIPBuilder().withIp(ip).build()).endStatus().build()).update();
  }

  /**
   * Starts a graceful deletion: sets {@code metadata.deletionTimestamp} while a finalizer keeps the pod (the
   * mock has no grace periods of its own).
   */
  public Pod terminatePod(String namespace, String name) {
    Pod current = client.pods().inNamespace(namespace).withName(name).get();
    PodBuilder terminating = new PodBuilder(current).editMetadata()
        .withDeletionTimestamp(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
        .withDeletionGracePeriodSeconds(30L).endMetadata();
    if (current.getMetadata().getFinalizers() == null || current.getMetadata().getFinalizers().isEmpty()) {
      terminating.editMetadata().addToFinalizers(HOLD_FINALIZER).endMetadata();
    }
    return client.pods().resource(terminating.build()).update();
  }

  /** Deletes a pod for good (a terminating one by dropping its finalizer, as the kubelet's final delete does). */
  public void deletePod(String namespace, String name) {
    Pod current = client.pods().inNamespace(namespace).withName(name).get();
    if (current == null) {
      return;
    }
    if (current.getMetadata().getFinalizers() != null && !current.getMetadata().getFinalizers().isEmpty()) {
      current = client.pods().resource(new PodBuilder(current).editMetadata().withFinalizers().endMetadata().build())
          .update();
      if (client.pods().inNamespace(namespace).withName(name).get() == null) {
        return; // the mock deleted it with its last finalizer, as the API server does once terminating
      }
    }
    client.pods().inNamespace(namespace).withName(name).withGracePeriod(0).delete();
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
