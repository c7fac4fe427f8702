package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.Objects;

/** A service: its cluster IPs (all families), ports and selector. Headless when it has no cluster IP. */
public record ServiceInfo(
    String namespace,
    String name,
    ImmutableList<String> clusterIps,
    ImmutableList<ServicePort> ports,
    ImmutableSortedMap<String, String> selector) {

  public ServiceInfo {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    clusterIps = clusterIps == null ? ImmutableList.of() : clusterIps;
    ports = ports == null ? ImmutableList.of() : ports;
    selector = selector == null ? ImmutableSortedMap.of() : selector;
  }

  public ObjectKey key() {
    return new ObjectKey(namespace, name);
  }

  /** No virtual IP: clients reach pods directly, so no per-service filter chain or cluster is built. */
  public boolean headless() {
    return clusterIps.isEmpty();
  }

  public ServiceInfo withClusterIps(ImmutableList<String> ips) {
    return new ServiceInfo(namespace, name, ips, ports, selector);
  }

  public ServiceInfo withPorts(ImmutableList<ServicePort> newPorts) {
    return new ServiceInfo(namespace, name, clusterIps, newPorts, selector);
  }
}
