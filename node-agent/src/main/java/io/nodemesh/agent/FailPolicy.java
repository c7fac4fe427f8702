package io.nodemesh.agent;



/** What the CNI plugin does when the node agent does not confirm a pod in time. */
public enum FailPolicy {
  /** The pod does not start (CNI error "try again later"): no meshed pod ever runs without its redirect. */
  CLOSED,
  /** The pod starts; the agent installs its rules when it reconciles. Availability over enforcement. */
  OPEN
}
