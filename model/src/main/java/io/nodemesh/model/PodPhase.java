package io.nodemesh.model;

/** The Kubernetes pod phase. */
public enum PodPhase {
  PENDING,
  RUNNING,
  SUCCEEDED,
  FAILED,
  UNKNOWN;

  /** A terminal pod never runs again; it gets no mesh config. */
  public boolean terminal() {
    return this == SUCCEEDED || this == FAILED;
  }
}
