package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.Objects;

/** A service: its cluster IPs (all families), ports, selector, traffic distribution; headless without IP. */
public record ServiceInfo(
    String namespace,
    String name,
    ImmutableList<String> clusterIps,
    ImmutableList<ServicePort> ports,
    ImmutableSortedMap<String, String> selector,
    TrafficDistribution trafficDistribution) {

  public ServiceInfo {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    clusterIps = clusterIps == null ? ImmutableList.of() : clusterIps;
    ports = ports == null ? ImmutableList.of() : ports;
    selector = selector == null ? ImmutableSortedMap.of() : selector;
    trafficDistribution = trafficDistribution == null ? TrafficDistribution.NONE : trafficDistribution;
  }

  /** A service without traffic distribution preference. */
  public ServiceInfo(String namespace, String name, ImmutableList<String> clusterIps, ImmutableList<ServicePort> ports,
      ImmutableSortedMap<String, String> selector) {
    this(namespace, name, clusterIps, ports, selector, TrafficDistribution.NONE);
  }

  public ObjectKey key() {
    return new ObjectKey(namespace, name);
  }

  /** No virtual IP: clients reach pods directly, so no per-service filter chain or cluster is built. */
  public boolean headless() {
    return clusterIps.isEmpty();
  }

  public ServiceInfo withClusterIps(ImmutableList<String> ips) {
    return new ServiceInfo(namespace, name, ips, ports, selector, trafficDistribution);
  }

  public ServiceInfo withPorts(ImmutableList<ServicePort> newPorts) {
    return new ServiceInfo(namespace, name, clusterIps, newPorts, selector, trafficDistribution);
  }

  public ServiceInfo withTrafficDistribution(TrafficDistribution distribution) {
    return new ServiceInfo(namespace, name, clusterIps, ports, selector, distribution);
  }
}
