package io.nodemesh.agent;

import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.PodInfo;
import java.util.Optional;

/**
 * The pods of this node and the namespaces, as the agent needs them: a cache kept by informers, plus a direct API
 * read for a pod the cache has not seen yet (a CNI ADD can come right after the pod was scheduled).
 */
public interface PodDirectory extends AutoCloseable {

  /** Called (on an informer thread) when a pod of this node or a namespace changed. */
  interface Listener {
    void podChanged(String uid);

    void namespaceChanged(String name);

    /** The caches hold the complete state for the first time. */
    void synced();
  }

  /** Starts the informers; {@code listener} hears every change from then on. */
  void start(Listener listener);

  /** Whether the caches hold the complete state: only then may a pin without a pod be collected. */
  boolean synced();

  /** A pod of this node by UID, from the cache. */
  Optional<PodInfo> byUid(String uid);

  /**
   * A pod by name, from the cache or else from the API.
   *
   * @throws RuntimeException when the API cannot be reached (the caller reports it, never guesses)
   */
  Optional<PodInfo> lookup(String namespace, String name);

  /**
   * A namespace, from the cache or else from the API.
   *
   * @throws RuntimeException when the API cannot be reached
   */
  Optional<NamespaceInfo> namespace(String name);

  @Override
  void close();
}
