package io.nodemesh.agent;

import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.PodInfo;
import java.util.Optional;

/**
 * One real informer-backed {@link KubernetesPodDirectory} for a whole test class, handed to each agent in turn.
 * A restarted agent starts with the caches already synced, which is what its reconcile sees after a real
 * restart too. Why not one per agent: fabric8's mock API blocks its event loop for up to a minute when a watch is
 * closed while it is sending an event, which stalls every later test.
 */
final class SharedPods implements PodDirectory {
  private final KubernetesPodDirectory delegate;
  private volatile Listener current;

  SharedPods(KubernetesPodDirectory delegate) {
    this.delegate = delegate;
    delegate.start(new Listener() {
      @Override
      public void podChanged(String uid) {
        Listener listener = current;
        if (listener != null) {
          listener.podChanged(uid);
        }
      }

      @Override
      public void namespaceChanged(String name) {
        Listener listener = current;
        if (listener != null) {
          listener.namespaceChanged(name);
        }
      }

      @Override
      public void synced() {
        Listener listener = current;
        if (listener != null) {
          listener.synced();
        }
      }
    });
  }

  @Override
  public void start(Listener listener) {
    current = listener;
    if (delegate.synced()) {
      listener.synced();
    }
  }

  @Override
  public boolean synced() {
    return delegate.synced();
  }

  @Override
  public Optional<PodInfo> byUid(String uid) {
    return delegate.byUid(uid);
  }

  @Override
  public Optional<PodInfo> lookup(String namespace, String name) {
    return delegate.lookup(namespace, name);
  }

  @Override
  public Optional<NamespaceInfo> namespace(String name) {
    return delegate.namespace(name);
  }

  @Override
  public void close() {
    current = null; // the agent stops; the informers stay for the next one
  }

  void closeForGood() {
    current = null;
    delegate.close();
  }
}
