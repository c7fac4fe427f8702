package io.nodemesh.model;

/** Transport protocol of a service or endpoint port. */
public enum Protocol {
  TCP,
  UDP,
  SCTP
}
