package io.nodemesh.app;

import java.util.concurrent.CompletableFuture;

/** A started process that serves xDS until closed: the control plane alone, or an application built around it. */
public interface Application extends AutoCloseable {

  /** Completes with the xDS port once the server is listening, or exceptionally when it could not be opened. */
  CompletableFuture<Integer> xdsStarted();

  @Override
  void close();
}
