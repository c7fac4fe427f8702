package io.nodemesh.agent;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.nodemesh.k8s.ConversionException;
import io.nodemesh.k8s.Converters;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PodDirectory} on fabric8 informers: pods with the field selector {@code spec.nodeName=<node>} (the API
 * server sends only this node's pods) and all namespaces (few, and their labels decide the mesh opt-in). Objects
 * go through the control plane's own {@link Converters}, so both see a pod the same way.
 */
public final class KubernetesPodDirectory implements PodDirectory {

  private static final Logger log = LoggerFactory.getLogger(KubernetesPodDirectory.class);

  private final KubernetesClient client;
  private final String nodeName;
  private final long resyncMillis;
  private final boolean fieldSelector;
  private final Map<String, PodInfo> byUid = new ConcurrentHashMap<>();
  private final Map<ObjectKey, PodInfo> byKey = new ConcurrentHashMap<>();
  private final Map<String, NamespaceInfo> namespaces = new ConcurrentHashMap<>();
  private volatile SharedIndexInformer<Pod> podInformer;
  private volatile SharedIndexInformer<Namespace> namespaceInformer;

  public KubernetesPodDirectory(KubernetesClient client, String nodeName, long resyncMillis) {
    this(client, nodeName, resyncMillis, true);
  }

  /**
   * {@code fieldSelector=false} lists all pods and filters here: only for fabric8's mock API, which answers a
   * {@code spec.nodeName} field selector with nothing.
   */
  KubernetesPodDirectory(KubernetesClient client, String nodeName, long resyncMillis, boolean fieldSelector) {
    this.client = client;
    this.nodeName = nodeName;
    this.resyncMillis = resyncMillis;
    this.fieldSelector = fieldSelector;
  }

  @Override
  public void start(Listener listener) {
    namespaceInformer = client.namespaces().runnableInformer(resyncMillis);
    namespaceInformer.addEventHandler(new ResourceEventHandler<Namespace>() {
      @Override
      public void onAdd(Namespace namespace) {
        putNamespace(namespace, listener);
      }

      @Override
      public void onUpdate(Namespace before, Namespace after) {
        putNamespace(after, listener);
      }

      @Override
      public void onDelete(Namespace namespace, boolean unknownFinalState) {
        String name = namespace.getMetadata().getName();
        namespaces.remove(name);
        listener.namespaceChanged(name);
      }
    });
    podInformer = fieldSelector
        ? client.pods().inAnyNamespace().withField("spec.nodeName", nodeName).runnableInformer(resyncMillis)
        : client.pods().inAnyNamespace().runnableInformer(resyncMillis);
    podInformer.addEventHandler(new ResourceEventHandler<Pod>() {
      @Override
      public void onAdd(Pod pod) {
        putPod(pod, listener);
      }

      @Override
      public void onUpdate(Pod before, Pod after) {
        putPod(after, listener);
      }

      @Override
      public void onDelete(Pod pod, boolean unknownFinalState) {
        removePod(pod, listener);
      }
    });
    var namespacesSynced = namespaceInformer.start();
    podInformer.start().thenCombine(namespacesSynced, (a, b) -> b).thenRun(listener::synced);
  }

  private void putNamespace(Namespace namespace, Listener listener) {
    try {
      NamespaceInfo info = Converters.namespace(namespace).value();
      namespaces.put(info.name(), info);
      listener.namespaceChanged(info.name());
    } catch (ConversionException e) {
      log.warn("namespace skipped: {}", e.getMessage());
    }
  }

  private void putPod(Pod pod, Listener listener) {
    PodInfo info;
    try {
      info = Converters.pod(pod).value();
    } catch (ConversionException e) {
      log.warn("pod skipped: {}", e.getMessage());
      return;
    }
    if (!info.nodeName().equals(Optional.of(nodeName))) {
      // the field selector already filters; this guards against an API (or test double) that ignores it
      removePod(pod, listener);
      return;
    }
    PodInfo previous = byKey.put(info.key(), info);
    if (previous != null && !previous.uid().equals(info.uid())) {
      byUid.remove(previous.uid());
      listener.podChanged(previous.uid());
    }
    byUid.put(info.uid(), info);
    listener.podChanged(info.uid());
  }

  private void removePod(Pod pod, Listener listener) {
    String uid = pod.getMetadata().getUid();
    if (uid != null && byUid.remove(uid) != null) {
      byKey.values().removeIf(info -> info.uid().equals(uid));
      listener.podChanged(uid);
    }
  }

  @Override
  public boolean synced() {
    SharedIndexInformer<Pod> pods = podInformer;
    SharedIndexInformer<Namespace> spaces = namespaceInformer;
    return pods != null && spaces != null && pods.hasSynced() && spaces.hasSynced();
  }

  @Override
  public Optional<PodInfo> byUid(String uid) {
    return Optional.ofNullable(byUid.get(uid));
  }

  @Override
  public Optional<PodInfo> lookup(String namespace, String name) {
    PodInfo cached = byKey.get(ObjectKey.of(namespace, name));
    if (cached != null) {
      return Optional.of(cached);
    }
    Pod pod = client.pods().inNamespace(namespace).withName(name).get();
    return pod == null ? Optional.empty() : Optional.of(Converters.pod(pod).value());
  }

  @Override
  public Optional<NamespaceInfo> namespace(String name) {
    NamespaceInfo cached = namespaces.get(name);
    if (cached != null) {
      return Optional.of(cached);
    }
    Namespace namespace = client.namespaces().withName(name).get();
    return namespace == null ? Optional.empty() : Optional.of(Converters.namespace(namespace).value());
  }

  @Override
  public void close() {
    if (podInformer != null) {
      podInformer.close();
    }
    if (namespaceInformer != null) {
      namespaceInformer.close();
    }
  }
}
