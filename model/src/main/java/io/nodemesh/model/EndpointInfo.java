package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import java.util.Optional;

/** One endpoint of an EndpointSlice with its conditions, node, zone and backing pod. */
public record EndpointInfo(
    ImmutableList<String> addresses,
    boolean ready,
    boolean serving,
    boolean terminating,
    Optional<String> nodeName,
    Optional<String> zone,
    Optional<ObjectKey> targetPod) {

  public EndpointInfo {
    addresses = addresses == null ? ImmutableList.of() : addresses;
    nodeName = nodeName == null ? Optional.empty() : nodeName;
    zone = zone == null ? Optional.empty() : zone;
    targetPod = targetPod == null ? Optional.empty() : targetPod;
  }
}
