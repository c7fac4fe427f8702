package io.nodemesh.translate;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.nodemesh.model.AddressType;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointInfo;
import io.nodemesh.model.EndpointPort;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Builds the shared ClusterLoadAssignment of a service port from its EndpointSlices (never from selectors):
 * ready endpoints; serving-but-terminating ones only while nothing is ready (as kube-proxy does); grouped
 * into zone localities of weight 1 (gRPC ignores localities of weight 0). For a service that asks for
 * trafficDistribution, variants per client zone or node put close endpoints in lower priorities.
 */
public final class EndpointTranslator {

  private EndpointTranslator() {}

  /** {@code svc/{ns}/{svc}/{port}} for one port of a service. */
  public static ClusterLoadAssignment serviceEndpoints(ServiceInfo service, ServicePort port, ClusterState state) {
    return assignment(ResourceNames.servicePort(service, port), candidates(service, port, state), null);
  }

  /**
   * {@code svc/{ns}/{svc}/{port}{suffix}}: the same endpoints in priorities by closeness to the variant's clients:
   * same node (PreferSameNode only), then same zone, then the rest. Empty groups are skipped, so priorities
   * stay 0..N without gaps (Envoy and grpc-java require it); Envoy moves traffic to the next priority as the
   * healthy share of one drops below 1/1.4 (the default overprovisioning factor), and only ready endpoints are
   * here (or, while none is ready, serving-terminating ones, as in the base).
   */
  public static ClusterLoadAssignment variantEndpoints(
      ServiceInfo service, ServicePort port, ClusterState state, Proximity proximity) {
    return assignment(ResourceNames.variant(ResourceNames.servicePort(service, port), proximity.suffix()),
        candidates(service, port, state), proximity);
  }

  private static List<Candidate> candidates(ServiceInfo service, ServicePort port, ClusterState state) {
    Optional<AddressType> family = primaryFamily(service);
    List<Candidate> ready = new ArrayList<>();
    List<Candidate> servingTerminating = new ArrayList<>();
    for (EndpointSliceInfo slice : state.slicesOf(service.key())) {
      if (slice.addressType() == AddressType.FQDN
          || (family.isPresent() && family.get() != slice.addressType())) {
        continue;
      }
      Optional<EndpointPort> slicePort =
          slice.ports().stream()
              .filter(p -> p.name().equals(port.name()) && p.protocol() == port.protocol())
              .findFirst();
      if (slicePort.isEmpty()) {
        continue;
      }
      for (EndpointInfo endpoint : slice.endpoints()) {
        // addresses of one endpoint are fungible; the API tells consumers to use the first
        Candidate candidate = new Candidate(endpoint.addresses().get(0), slicePort.get().port(),
            locality(endpoint, state), endpoint.nodeName().orElse(""));
        if (endpoint.ready()) {
          ready.add(candidate);
        } else if (endpoint.serving() && endpoint.terminating()) {
          servingTerminating.add(candidate);
        }
      }
    }
    return ready.isEmpty() ? servingTerminating : ready;
  }

  /** {@code proximity} null: the base assignment, every endpoint at priority 0. */
  private static ClusterLoadAssignment assignment(String name, List<Candidate> endpoints, Proximity proximity) {
    // sorted maps/sets: identical state must give byte-identical output on every replica
    Map<PriorityLocality, TreeSet<HostPort>> byLocality = new TreeMap<>();
    int[] priorities = proximity == null ? null : priorities(endpoints, proximity);
    for (Candidate candidate : endpoints) {
      int priority = priorities == null ? 0 : priorities[closeness(candidate, proximity)];
      byLocality.computeIfAbsent(new PriorityLocality(priority, candidate.locality()), k -> new TreeSet<>())
          .add(new HostPort(candidate.ip(), candidate.port()));
    }
    ClusterLoadAssignment.Builder cla = ClusterLoadAssignment.newBuilder().setClusterName(name);
    for (Map.Entry<PriorityLocality, TreeSet<HostPort>> entry : byLocality.entrySet()) {
      LocalityLbEndpoints.Builder locality =
          LocalityLbEndpoints.newBuilder()
              .setLocality(entry.getKey().locality().toLocality())
              .setLoadBalancingWeight(EnvoyBuilders.uint32(1))
              .setPriority(entry.getKey().priority());
      for (HostPort host : entry.getValue()) {
        locality.addLbEndpoints(LbEndpoint.newBuilder()
            .setEndpoint(Endpoint.newBuilder()
                .setAddress(Address.newBuilder().setSocketAddress(EnvoyBuilders.socketAddress(host.ip(), host.port()))))
            .setHealthStatus(HealthStatus.HEALTHY)
            .setLoadBalancingWeight(EnvoyBuilders.uint32(1)));
      }
      cla.addEndpoints(locality);
    }
    return cla.build();
  }

  private static final int SAME_NODE = 0;
  private static final int SAME_ZONE = 1;
  private static final int REST = 2;

  /** How close an endpoint is to the variant's clients: {@link #SAME_NODE}, {@link #SAME_ZONE} or {@link #REST}. */
  static int closeness(Candidate candidate, Proximity proximity) {
    if (proximity.node().isPresent() && proximity.node().get().equals(candidate.node())) {
      return SAME_NODE;
    }
    // an endpoint without a zone (neither the slice nor its node says) is never "same zone"
    if (proximity.zone().isPresent() && !candidate.locality().zone().isEmpty()
        && proximity.zone().get().equals(candidate.locality().zone())) {
      return SAME_ZONE;
    }
    return REST;
  }

  /** The priority of each closeness group: the groups that have endpoints numbered 0..N in order, no gaps. */
  static int[] priorities(List<Candidate> endpoints, Proximity proximity) {
    boolean[] present = new boolean[REST + 1];
    for (Candidate candidate : endpoints) {
      present[closeness(candidate, proximity)] = true;
    }
    int[] priorities = new int[REST + 1];
    int next = 0;
    for (int group = SAME_NODE; group <= REST; group++) {
      priorities[group] = next;
      if (present[group]) {
        next++;
      }
    }
    return priorities;
  }

  /** A dual-stack service's endpoints come in one slice per family; use its primary family only. */
  private static Optional<AddressType> primaryFamily(ServiceInfo service) {
    if (service.clusterIps().isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(EnvoyBuilders.isIpv6(service.clusterIps().get(0)) ? AddressType.IPV6 : AddressType.IPV4);
  }

  private static LocalityKey locality(EndpointInfo endpoint, ClusterState state) {
    Optional<NodeInfo> node = endpoint.nodeName().flatMap(state::node);
    String zone = endpoint.zone().or(() -> node.flatMap(NodeInfo::zone)).orElse("");
    String region = node.flatMap(NodeInfo::region).orElse("");
    return new LocalityKey(region, zone);
  }

  /** One endpoint: address, port, locality and the node it runs on ("" when the slice does not say). */
  record Candidate(String ip, int port, LocalityKey locality, String node) {}

  /** Localities ordered by priority first: Envoy wants nothing in particular, but replicas must agree. */
  private record PriorityLocality(int priority, LocalityKey locality) implements Comparable<PriorityLocality> {
    @Override
    public int compareTo(PriorityLocality other) {
      int byPriority = Integer.compare(priority, other.priority);
      return byPriority != 0 ? byPriority : locality.compareTo(other.locality);
    }
  }

  record LocalityKey(String region, String zone) implements Comparable<LocalityKey> {
    @Override
    public int compareTo(LocalityKey other) {
      int byRegion = region.compareTo(other.region);
      return byRegion != 0 ? byRegion : zone.compareTo(other.zone);
    }

    Locality toLocality() {
      return Locality.newBuilder().setRegion(region).setZone(zone).build();
    }
  }

  private record HostPort(String ip, int port) implements Comparable<HostPort> {
    @Override
    public int compareTo(HostPort other) {
      int byIp = ip.compareTo(other.ip);
      return byIp != 0 ? byIp : Integer.compare(port, other.port);
    }
  }
}
