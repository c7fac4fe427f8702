package io.nodemesh.model;

/** The address family of an EndpointSlice. */
public enum AddressType {
  IPV4,
  IPV6,
  FQDN
}
