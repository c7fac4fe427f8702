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
 * into zone localities of weight 1 (gRPC ignores localities of weight 0).
 */
public final class EndpointTranslator {

  private EndpointTranslator() {}

  /** {@code svc/{ns}/{svc}/{port}} for one port of a service. */
  public static ClusterLoadAssignment serviceEndpoints(ServiceInfo service, ServicePort port, ClusterState state) {
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
        Candidate candidate =
            new Candidate(endpoint.addresses().get(0), slicePort.get().port(), locality(endpoint, state));
        if (endpoint.ready()) {
          ready.add(candidate);
        } else if (endpoint.serving() && endpoint.terminating()) {
          servingTerminating.add(candidate);
        }
      }
    }
    return assignment(
        ResourceNames.servicePort(service, port), ready.isEmpty() ? servingTerminating : ready);
  }

  private static ClusterLoadAssignment assignment(String name, List<Candidate> endpoints) {
    // sorted maps/sets: identical state must give byte-identical output on every replica
    Map<LocalityKey, TreeSet<HostPort>> byLocality = new TreeMap<>();
    for (Candidate candidate : endpoints) {
      byLocality.computeIfAbsent(candidate.locality(), k -> new TreeSet<>())
          .add(new HostPort(candidate.ip(), candidate.port()));
    }
    ClusterLoadAssignment.Builder cla = ClusterLoadAssignment.newBuilder().setClusterName(name);
    for (Map.Entry<LocalityKey, TreeSet<HostPort>> entry : byLocality.entrySet()) {
      LocalityLbEndpoints.Builder locality =
          LocalityLbEndpoints.newBuilder()
              .setLocality(entry.getKey().toLocality())
              .setLoadBalancingWeight(EnvoyBuilders.uint32(1))
              .setPriority(0);
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

  private record Candidate(String ip, int port, LocalityKey locality) {}

  private record LocalityKey(String region, String zone) implements Comparable<LocalityKey> {
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
