package io.nodemesh.model;

/** Where a pod's network namespace path comes from. */
public enum NetnsMode {
  /** A template expanded with the pod UID; the node's CNI chain plugin pins the namespace there. */
  TEMPLATE,
  /** The pod annotation {@code nodemesh.io/netns}, accepted only under an allowed prefix. */
  ANNOTATION
}
