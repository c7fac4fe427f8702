package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableListMultimap;
import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
  private final ImmutableSortedMap<ObjectKey, PodInfo> pods;
  private final ImmutableSortedMap<ObjectKey, ServiceInfo> services;
  private final ImmutableSortedMap<ObjectKey, EndpointSliceInfo> endpointSlices;
  private final ImmutableSortedSet<Problem> problems;
  private final ImmutableListMultimap<String, PodInfo> podsByNode;
  private final ImmutableListMultimap<ObjectKey, EndpointSliceInfo> slicesByService;

  private ClusterState(Builder builder) {
    this.options = builder.options;
    this.nodes = ImmutableSortedMap.copyOfSorted(builder.nodes);
    this.namespaces = ImmutableSortedMap.copyOfSorted(builder.namespaces);
    this.pods = ImmutableSortedMap.copyOfSorted(builder.pods);
    this.services = ImmutableSortedMap.copyOfSorted(builder.services);
    this.endpointSlices = ImmutableSortedMap.copyOfSorted(builder.endpointSlices);
    ImmutableSortedSet.Builder<Problem> allProblems = ImmutableSortedSet.naturalOrder();
    builder.problems.values().forEach(allProblems::addAll);
    this.problems = allProblems.build();
    ImmutableListMultimap.Builder<String, PodInfo> byNode = ImmutableListMultimap.builder();
    for (PodInfo pod : pods.values()) {
      pod.nodeName().ifPresent(node -> byNode.put(node, pod));
    }
    this.podsByNode = byNode.build();
    ImmutableListMultimap.Builder<ObjectKey, EndpointSliceInfo> byService = ImmutableListMultimap.builder();
    for (EndpointSliceInfo slice : endpointSlices.values()) {
      byService.put(slice.serviceKey(), slice);
    }
    this.slicesByService = byService.build();
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
    builder.pods.putAll(pods);
    builder.services.putAll(services);
    builder.endpointSlices.putAll(endpointSlices);
    for (Problem problem : problems) {
      builder.problems.computeIfAbsent(problemKey(problem.kind(), problem.namespace(), problem.name()), k -> new ArrayList<>())
          .add(problem);
    }
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

  public ImmutableSortedMap<ObjectKey, PodInfo> pods() {
    return pods;
  }

  public ImmutableSortedMap<ObjectKey, ServiceInfo> services() {
    return services;
  }

  public ImmutableSortedMap<ObjectKey, EndpointSliceInfo> endpointSlices() {
    return endpointSlices;
  }

  /** Everything in the input that was skipped or repaired, with reasons. */
  public ImmutableSortedSet<Problem> problems() {
    return problems;
  }

  /** The pods scheduled to a node (meshed or not), ordered by namespace and name. */
  public ImmutableList<PodInfo> podsOnNode(String nodeName) {
    return podsByNode.get(nodeName);
  }

  /** The EndpointSlices that belong to a service (label kubernetes.io/service-name). */
  public ImmutableList<EndpointSliceInfo> slicesOf(ObjectKey service) {
    return slicesByService.get(service);
  }

  public Optional<NodeInfo> node(String name) {
    return Optional.ofNullable(nodes.get(name));
  }

  public Optional<PodInfo> pod(ObjectKey key) {
    return Optional.ofNullable(pods.get(key));
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
        && pods.equals(state.pods)
        && services.equals(state.services)
        && endpointSlices.equals(state.endpointSlices)
        && problems.equals(state.problems);
  }

  @Override
  public int hashCode() {
    return Objects.hash(nodes, namespaces, pods, services, endpointSlices);
  }

  @Override
  public String toString() {
    return "ClusterState{nodes=" + nodes.size() + ", namespaces=" + namespaces.size() + ", pods=" + pods.size()
        + ", services=" + services.size() + ", endpointSlices=" + endpointSlices.size()
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
    private final Map<String, List<Problem>> problems = new TreeMap<>();

    private Builder(MeshOptions options) {
      this.options = Objects.requireNonNull(options, "options");
    }

    public ClusterState build() {
      return new ClusterState(this);
    }

    /** Records a problem with an object that never made it into the model (e.g. a converter failure). */
    public Builder reportProblem(Problem problem) {
      problems.computeIfAbsent(problemKey(problem.kind(), problem.namespace(), problem.name()), k -> new ArrayList<>())
          .add(problem);
      return this;
    }

    /** Forgets the problems recorded for an object (it was deleted, or replaced by a valid version). */
    public Builder clearProblems(String kind, String namespace, String name) {
      problems.remove(problemKey(kind, namespace, name));
      return this;
    }

    public Builder putNode(NodeInfo node) {
      clearProblems("Node", "", node.name());
      String problem = ModelValidation.subdomainProblem("node name", node.name());
      if (problem != null) {
        reportProblem(new Problem("Node", "", node.name(), problem));
        return this;
      }
      nodes.put(node.name(), node);
      return this;
    }

    public Builder removeNode(String name) {
      clearProblems("Node", "", name);
      nodes.remove(name);
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
      reevaluatePodsIn(namespace.name());
      return this;
    }

    public Builder removeNamespace(String name) {
      clearProblems("Namespace", "", name);
      if (namespaces.remove(name) != null) {
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
        pods.remove(pod.key());
        return this;
      }
      PodInfo valid = pod.withIps(ModelValidation.validIps(pod.ips(), "pod IP", report));
      pods.put(valid.key(), valid.withMesh(MeshPolicy.evaluate(valid, namespaces.get(valid.namespace()), options)));
      return this;
    }

    public Builder removePod(ObjectKey key) {
      clearProblems("Pod", key.namespace(), key.name());
      pods.remove(key);
      return this;
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
        services.remove(service.key());
        return this;
      }
      ServiceInfo valid =
          service
              .withClusterIps(ModelValidation.validIps(service.clusterIps(), "cluster IP", report))
              .withPorts(ModelValidation.validServicePorts(service.ports(), report));
      services.put(valid.key(), valid);
      return this;
    }

    public Builder removeService(ObjectKey key) {
      clearProblems("Service", key.namespace(), key.name());
      services.remove(key);
      return this;
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
        endpointSlices.remove(slice.key());
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
      endpointSlices.put(valid.key(), valid);
      return this;
    }

    public Builder removeEndpointSlice(ObjectKey key) {
      clearProblems("EndpointSlice", key.namespace(), key.name());
      endpointSlices.remove(key);
      return this;
    }

    private void reevaluatePodsIn(String namespace) {
      NamespaceInfo info = namespaces.get(namespace);
      // keys sort by namespace first: the pods of one namespace are one contiguous range
      for (Map.Entry<ObjectKey, PodInfo> entry :
          pods.subMap(ObjectKey.of(namespace, ""), true, ObjectKey.of(namespace + "\u0000", ""), false).entrySet()) {
        entry.setValue(entry.getValue().withMesh(MeshPolicy.evaluate(entry.getValue(), info, options)));
      }
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
