package io.nodemesh.k8s;

/** Thrown by a converter when a Kubernetes object cannot become a model object at all; the message says why. */
public final class ConversionException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public ConversionException(String reason) {
    super(reason);
  }
}
