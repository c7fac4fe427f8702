package io.nodemesh.e2e;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;

/**
 * A test-owned Kubernetes API: fabric8's mock server in CRUD mode on 127.0.0.1, plus builders for the objects
 * the control plane watches. The mock has no controllers: tests write EndpointSlices themselves.
 */
public final class MockKubernetes implements AutoCloseable {

  private final KubernetesMockServer server;
  private final KubernetesClient client;

  private MockKubernetes(KubernetesMockServer server) {
    this.server = server;
    this.client = server.createClient();
  }

  /** Starts on a free loopback port. */
  public static MockKubernetes start() {
    return startOn(0);
  }

  /** Starts on a given loopback port (to bring the "same" API server back after an outage). */
  public static MockKubernetes startOn(int port) {
    KubernetesMockServer server = new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(List.of()), false);
    server.init(InetAddress.getLoopbackAddress(), port);
    return new MockKubernetes(server);
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

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
