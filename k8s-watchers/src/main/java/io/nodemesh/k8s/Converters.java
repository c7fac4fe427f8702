package io.nodemesh.k8s;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import com.google.common.net.InetAddresses;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.nodemesh.log.SafeText;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshStatus;
import io.nodemesh.model.ModelValidation;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import io.nodemesh.model.Protocol;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import io.nodemesh.model.TrafficDistribution;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Pure functions from fabric8 objects to model records. They never trust their input: a missing optional part
 * becomes a default, a bad part is dropped with a reason in {@link Converted#problems()}, and an object that
 * cannot be identified (no name, no namespace, no spec) throws {@link ConversionException}. IPs are validated
 * and canonicalized by the model; names by the model as well.
 */
public final class Converters {

  /** The label that ties an EndpointSlice to its service. */
  public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
  public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
  public static final String REGION_LABEL = "topology.kubernetes.io/region";
  /**
   * Only annotations under this prefix are kept: other controllers rewrite their annotations often (and some,
   * like kubectl's last-applied-configuration, are large), which would cost memory and emit pod changes that
   * no translator cares about.
   */
  public static final String KEPT_ANNOTATION_PREFIX = "nodemesh.io/";

  /** Kubernetes validation limits: anything above is hostile or broken input, bounded before it costs work. */
  static final int MAX_POD_IPS = 2;
  static final int MAX_CLUSTER_IPS = 2;
  static final int MAX_SERVICE_PORTS = ModelValidation.MAX_PORTS_PER_SERVICE;
  static final int MAX_SLICE_ENDPOINTS = 1000;
  static final int MAX_SLICE_PORTS = 100;
  static final int MAX_ENDPOINT_ADDRESSES = 100;
  static final int MAX_NODE_ADDRESSES = 32;

  private Converters() {}

  /** Converts a pod; mesh status is left unevaluated for the model to compute. */
  public static Converted<PodInfo> pod(Pod pod) {
    ObjectMeta meta = requireMeta(pod);
    ObjectKey key = namespacedKey(pod);
    PodSpec spec = pod.getSpec();
    if (spec == null) {
      throw new ConversionException("pod has no spec");
    }
    List<String> problems = new ArrayList<>();
    PodStatus status = pod.getStatus();
    List<String> ips = new ArrayList<>();
    PodPhase phase = PodPhase.PENDING;
    if (status != null) {
      if (status.getPodIPs() != null && !status.getPodIPs().isEmpty()) {
        for (PodIP podIp : status.getPodIPs()) {
          if (podIp != null && podIp.getIp() != null && !podIp.getIp().isEmpty()) {
            ips.add(podIp.getIp());
          }
        }
      } else if (status.getPodIP() != null && !status.getPodIP().isEmpty()) {
        ips.add(status.getPodIP());
      }
      phase = phase(status.getPhase(), problems);
    }
    if (ips.size() > MAX_POD_IPS) {
      problems.add("pod has " + ips.size() + " IPs, only the first " + MAX_POD_IPS + " are used");
      ips = ips.subList(0, MAX_POD_IPS);
    }
    PodInfo info = new PodInfo(
        nullToEmpty(meta.getUid()),
        key.namespace(),
        key.name(),
        Optional.ofNullable(emptyToNull(spec.getNodeName())),
        ImmutableList.copyOf(ips),
        phase,
        Boolean.TRUE.equals(spec.getHostNetwork()),
        meta.getDeletionTimestamp() != null && !meta.getDeletionTimestamp().isEmpty(),
        stringMap(meta.getLabels(), "label", null, problems),
        stringMap(meta.getAnnotations(), "annotation", KEPT_ANNOTATION_PREFIX, problems),
        MeshStatus.UNEVALUATED);
    return new Converted<>(info, ImmutableList.copyOf(problems));
  }

  /** Converts a service: all cluster IPs ({@code None} means headless), its usable ports and its selector. */
  public static Converted<ServiceInfo> service(Service service) {
    requireMeta(service);
    ObjectKey key = namespacedKey(service);
    ServiceSpec spec = service.getSpec();
    if (spec == null) {
      throw new ConversionException("service has no spec");
    }
    List<String> problems = new ArrayList<>();
    List<String> rawIps =
        spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty()
            ? spec.getClusterIPs()
            : spec.getClusterIP() == null ? List.of() : List.of(spec.getClusterIP());
    List<String> clusterIps = new ArrayList<>();
    for (String ip : rawIps) {
      // "None" is how the API spells headless; empty is what ExternalName services have
      if (ip != null && !ip.isEmpty() && !"None".equals(ip)) {
        clusterIps.add(ip);
      }
    }
    if (clusterIps.size() > MAX_CLUSTER_IPS) {
      problems.add("service has " + clusterIps.size() + " cluster IPs, only the first " + MAX_CLUSTER_IPS
          + " are used");
      clusterIps = clusterIps.subList(0, MAX_CLUSTER_IPS);
    }
    ImmutableList.Builder<ServicePort> ports = ImmutableList.builder();
    List<io.fabric8.kubernetes.api.model.ServicePort> rawPorts =
        spec.getPorts() == null ? List.of() : spec.getPorts();
    int limit = Math.min(rawPorts.size(), MAX_SERVICE_PORTS);
    if (rawPorts.size() > limit) {
      problems.add("service has " + rawPorts.size() + " ports, only the first " + limit + " are used");
    }
    for (io.fabric8.kubernetes.api.model.ServicePort port : rawPorts.subList(0, limit)) {
      if (port == null) {
        continue;
      }
      Optional<Protocol> protocol = usablePort("port", port.getName(), port.getPort(), port.getProtocol(), problems);
      if (protocol.isEmpty()) {
        continue;
      }
      ports.add(new ServicePort(
          nullToEmpty(port.getName()),
          port.getPort(),
          targetPort(port.getTargetPort(), port.getPort()),
          protocol.get(),
          Optional.ofNullable(emptyToNull(port.getAppProtocol()))));
    }
    ServiceInfo info = new ServiceInfo(
        key.namespace(), key.name(), ImmutableList.copyOf(clusterIps), ports.build(),
        stringMap(spec.getSelector(), "selector", null, problems),
        trafficDistribution(spec.getTrafficDistribution(), problems));
    return new Converted<>(info, ImmutableList.copyOf(problems));
  }

  /**
   * {@code spec.trafficDistribution}: PreferClose and PreferSameZone (synonyms) and PreferSameNode; anything
   * else is no preference, reported (Kubernetes may add values; the API server already refuses unknown ones).
   */
  static TrafficDistribution trafficDistribution(String value, List<String> problems) {
    if (value == null || value.isEmpty()) {
      return TrafficDistribution.NONE;
    }
    return switch (value) {
      case "PreferClose", "PreferSameZone" -> TrafficDistribution.PREFER_SAME_ZONE;
      case "PreferSameNode" -> TrafficDistribution.PREFER_SAME_NODE;
      default -> {
        problems.add("trafficDistribution " + printable(value) + " is not PreferClose, PreferSameZone or "
            + "PreferSameNode; no preference");
        yield TrafficDistribution.NONE;
      }
    };
  }

  /** Converts an EndpointSlice; its service comes from the {@value #SERVICE_NAME_LABEL} label. */
  public static Converted<EndpointSliceInfo> endpointSlice(EndpointSlice slice) {
    ObjectMeta meta = requireMeta(slice);
    ObjectKey key = namespacedKey(slice);
    AddressType addressType = addressType(slice.getAddressType());
    List<String> problems = new ArrayList<>();
    String serviceName = meta.getLabels() == null ? "" : nullToEmpty(meta.getLabels().get(SERVICE_NAME_LABEL));

    ImmutableList.Builder<EndpointPort> ports = ImmutableList.builder();
    List<io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort> rawPorts =
        slice.getPorts() == null ? List.of() : slice.getPorts();
    int portLimit = Math.min(rawPorts.size(), MAX_SLICE_PORTS);
    if (rawPorts.size() > portLimit) {
      problems.add("slice has " + rawPorts.size() + " ports, only the first " + portLimit + " are used");
    }
    for (io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort port : rawPorts.subList(0, portLimit)) {
      if (port == null) {
        continue;
      }
      Optional<Protocol> protocol =
          usablePort("endpoint port", port.getName(), port.getPort(), port.getProtocol(), problems);
      if (protocol.isEmpty()) {
        continue;
      }
      ports.add(new EndpointPort(nullToEmpty(port.getName()), port.getPort(), protocol.get(),
          Optional.ofNullable(emptyToNull(port.getAppProtocol()))));
    }

    ImmutableList.Builder<EndpointInfo> endpoints = ImmutableList.builder();
    List<Endpoint> rawEndpoints = slice.getEndpoints() == null ? List.of() : slice.getEndpoints();
    int endpointLimit = Math.min(rawEndpoints.size(), MAX_SLICE_ENDPOINTS);
    if (rawEndpoints.size() > endpointLimit) {
      problems.add("slice has " + rawEndpoints.size() + " endpoints, only the first " + endpointLimit + " are used");
    }
    for (Endpoint endpoint : rawEndpoints.subList(0, endpointLimit)) {
      if (endpoint == null) {
        continue;
      }
      List<String> addresses = endpoint.getAddresses() == null ? List.of() : endpoint.getAddresses();
      if (addresses.isEmpty()) {
        problems.add("an endpoint has no addresses, skipped");
        continue;
      }
      if (addresses.size() > MAX_ENDPOINT_ADDRESSES) {
        problems.add("an endpoint has " + addresses.size() + " addresses, only the first "
            + MAX_ENDPOINT_ADDRESSES + " are used");
        addresses = addresses.subList(0, MAX_ENDPOINT_ADDRESSES);
      }
      EndpointConditions conditions = endpoint.getConditions();
      // API semantics: ready unset means ready; serving unset means "same as ready"; terminating unset means no
      boolean ready = conditions == null || conditions.getReady() == null || conditions.getReady();
      boolean serving = conditions == null || conditions.getServing() == null ? ready : conditions.getServing();
      boolean terminating = conditions != null && Boolean.TRUE.equals(conditions.getTerminating());
      endpoints.add(new EndpointInfo(
          addresses.stream().filter(a -> a != null).collect(ImmutableList.toImmutableList()),
          ready,
          serving,
          terminating,
          Optional.ofNullable(emptyToNull(endpoint.getNodeName())),
          Optional.ofNullable(emptyToNull(endpoint.getZone())),
          targetPod(endpoint.getTargetRef(), key.namespace())));
    }
    EndpointSliceInfo info = new EndpointSliceInfo(
        key.namespace(), key.name(), serviceName, addressType, ports.build(), endpoints.build());
    return new Converted<>(info, ImmutableList.copyOf(problems));
  }

  /** Converts a node: topology labels, the Ready condition and its internal/external IPs. */
  public static Converted<NodeInfo> node(Node node) {
    ObjectMeta meta = requireMeta(node);
    List<String> problems = new ArrayList<>();
    Map<String, String> labels = meta.getLabels() == null ? Map.of() : meta.getLabels();
    boolean ready = false;
    Set<String> addresses = new LinkedHashSet<>();
    if (node.getStatus() != null) {
      if (node.getStatus().getConditions() != null) {
        for (NodeCondition condition : node.getStatus().getConditions()) {
          if (condition != null && "Ready".equals(condition.getType())) {
            ready = "True".equals(condition.getStatus());
          }
        }
      }
      List<NodeAddress> rawAddresses =
          node.getStatus().getAddresses() == null ? List.of() : node.getStatus().getAddresses();
      for (NodeAddress address : rawAddresses) {
        if (address == null
            || !("InternalIP".equals(address.getType()) || "ExternalIP".equals(address.getType()))) {
          continue;
        }
        String ip = address.getAddress();
        if (ip == null || !InetAddresses.isInetAddress(ip)) {
          problems.add("node address " + printable(ip) + " is not an IP address, skipped");
        } else if (addresses.size() >= MAX_NODE_ADDRESSES) {
          problems.add("node has more than " + MAX_NODE_ADDRESSES + " addresses, the rest are skipped");
          break;
        } else {
          addresses.add(InetAddresses.toAddrString(InetAddresses.forString(ip)));
        }
      }
    }
    NodeInfo info = new NodeInfo(
        meta.getName(),
        Optional.ofNullable(emptyToNull(labels.get(ZONE_LABEL))),
        Optional.ofNullable(emptyToNull(labels.get(REGION_LABEL))),
        ready,
        ImmutableList.copyOf(addresses));
    return new Converted<>(info, ImmutableList.copyOf(problems));
  }

  /** Converts a namespace: its name and labels (the mesh opt-in). */
  public static Converted<NamespaceInfo> namespace(Namespace namespace) {
    ObjectMeta meta = requireMeta(namespace);
    List<String> problems = new ArrayList<>();
    NamespaceInfo info = new NamespaceInfo(meta.getName(), stringMap(meta.getLabels(), "label", null, problems));
    return new Converted<>(info, ImmutableList.copyOf(problems));
  }

  /** The model key of a namespaced object; throws when name or namespace is missing. */
  public static ObjectKey namespacedKey(HasMetadata object) {
    ObjectMeta meta = requireMeta(object);
    if (meta.getNamespace() == null || meta.getNamespace().isEmpty()) {
      throw new ConversionException("metadata.namespace is missing");
    }
    return ObjectKey.of(meta.getNamespace(), meta.getName());
  }

  /** The name of an object; throws when metadata or name is missing. */
  public static String clusterScopedKey(HasMetadata object) {
    return requireMeta(object).getName();
  }

  private static ObjectMeta requireMeta(HasMetadata object) {
    if (object == null) {
      throw new ConversionException("object is null");
    }
    ObjectMeta meta = object.getMetadata();
    if (meta == null) {
      throw new ConversionException("metadata is missing");
    }
    if (meta.getName() == null || meta.getName().isEmpty()) {
      throw new ConversionException("metadata.name is missing");
    }
    return meta;
  }

  private static PodPhase phase(String phase, List<String> problems) {
    if (phase == null || phase.isEmpty()) {
      // the API server sets Pending on creation; no status yet means nothing ran yet
      return PodPhase.PENDING;
    }
    return switch (phase) {
      case "Pending" -> PodPhase.PENDING;
      case "Running" -> PodPhase.RUNNING;
      case "Succeeded" -> PodPhase.SUCCEEDED;
      case "Failed" -> PodPhase.FAILED;
      case "Unknown" -> PodPhase.UNKNOWN;
      default -> {
        problems.add("unknown pod phase " + printable(phase) + ", treated as Unknown");
        yield PodPhase.UNKNOWN;
      }
    };
  }

  /** The protocol of a port; unset means TCP (the API default); anything unknown is empty. */
  static Optional<Protocol> protocol(String protocol) {
    if (protocol == null || protocol.isEmpty()) {
      return Optional.of(Protocol.TCP);
    }
    return switch (protocol) {
      case "TCP" -> Optional.of(Protocol.TCP);
      case "UDP" -> Optional.of(Protocol.UDP);
      case "SCTP" -> Optional.of(Protocol.SCTP);
      default -> Optional.empty();
    };
  }

  private static AddressType addressType(String addressType) {
    if (addressType == null) {
      throw new ConversionException("slice has no addressType");
    }
    return switch (addressType) {
      case "IPv4" -> AddressType.IPV4;
      case "IPv6" -> AddressType.IPV6;
      case "FQDN" -> AddressType.FQDN;
      default -> throw new ConversionException("slice has unknown addressType " + printable(addressType));
    };
  }

  private static String targetPort(IntOrString targetPort, int port) {
    if (targetPort == null) {
      return Integer.toString(port);
    }
    if (targetPort.getIntVal() != null) {
      return Integer.toString(targetPort.getIntVal());
    }
    String named = targetPort.getStrVal();
    return named == null || named.isEmpty() ? Integer.toString(port) : named;
  }

  private static Optional<ObjectKey> targetPod(ObjectReference ref, String sliceNamespace) {
    if (ref == null || !"Pod".equals(ref.getKind()) || ref.getName() == null || ref.getName().isEmpty()) {
      return Optional.empty();
    }
    String namespace = ref.getNamespace() == null || ref.getNamespace().isEmpty() ? sliceNamespace : ref.getNamespace();
    return Optional.of(ObjectKey.of(namespace, ref.getName()));
  }

  /** Copies a string map, skipping null entries (and keys outside {@code keepPrefix} when it is set). */
  private static ImmutableSortedMap<String, String> stringMap(
      Map<String, String> map, String what, String keepPrefix, List<String> problems) {
    if (map == null || map.isEmpty()) {
      return ImmutableSortedMap.of();
    }
    ImmutableSortedMap.Builder<String, String> copy = ImmutableSortedMap.naturalOrder();
    for (Map.Entry<String, String> entry : map.entrySet()) {
      String key = entry.getKey();
      if (key == null || entry.getValue() == null) {
        problems.add(what + " " + printable(key) + " has no value, skipped");
      } else if (keepPrefix == null || key.startsWith(keepPrefix)) {
        copy.put(key, entry.getValue());
      }
    }
    return copy.buildOrThrow();
  }

  /**
   * The protocol of a service or slice port that has a number and a known protocol; otherwise empty, with the
   * reason in {@code problems}. A slice port without a number is allowed by the API ("all ports"), but a proxy
   * cannot route to an unknown port.
   */
  private static Optional<Protocol> usablePort(String what, String name, Integer number, String protocolText,
      List<String> problems) {
    String label = what + " " + printable(name) + ":" + number;
    if (number == null) {
      problems.add(label + " has no port number, skipped");
      return Optional.empty();
    }
    Optional<Protocol> protocol = protocol(protocolText);
    if (protocol.isEmpty()) {
      problems.add(label + " has unknown protocol " + printable(protocolText) + ", skipped");
    }
    return protocol;
  }

  /** Keeps hostile values from flooding logs and problem reports. */
  static String printable(String value) {
    return SafeText.printable(value, 80);
  }

  private static String nullToEmpty(String value) {
    return value == null ? "" : value;
  }

  private static String emptyToNull(String value) {
    return value == null || value.isEmpty() ? null : value;
  }
}
