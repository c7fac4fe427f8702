package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import java.util.Objects;

/**
 * A pod network namespace that a node's agent has pinned (CNI ADD), as the agent reported it: the pod's UID,
 * the IPs the main CNI plugin gave it (the API shows them only after ADD returns), and whether the agent is
 * releasing it (CNI DEL: the pod's listener must go before the pin does). Immutable; the IPs are kept in canonical
 * form, as a pod's (what is not an IP is dropped: the reporter's side refuses such reports before they get here).
 */
public record NodePin(String podUid, ImmutableList<String> ips, boolean releasing) {

  public NodePin {
    Objects.requireNonNull(podUid, "podUid");
    ips = ModelValidation.validIps(ips == null ? ImmutableList.of() : ips, "pin IP", problem -> {});
  }
}
