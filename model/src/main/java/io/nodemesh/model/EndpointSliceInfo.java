package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import java.util.Objects;

/** An EndpointSlice of a service: the only source of endpoints (selectors are never re-evaluated). */
public record EndpointSliceInfo(
    String namespace,
    String name,
    String serviceName,
    AddressType addressType,
    ImmutableList<EndpointPort> ports,
    ImmutableList<EndpointInfo> endpoints) {

  public EndpointSliceInfo {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    serviceName = serviceName == null ? "" : serviceName;
    addressType = addressType == null ? AddressType.IPV4 : addressType;
    ports = ports == null ? ImmutableList.of() : ports;
    endpoints = endpoints == null ? ImmutableList.of() : endpoints;
  }

  public ObjectKey key() {
    return new ObjectKey(namespace, name);
  }

  public ObjectKey serviceKey() {
    return new ObjectKey(namespace, serviceName);
  }
}
