package io.nodemesh.agent;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells an uninstall from a restart. A SIGTERM looks the same in both cases; what differs is the agent's own
 * DaemonSet: on {@code helm uninstall} (or {@code nodeAgent.enabled=false}) it is deleted before its pods are,
 * while a rolling update, a node reboot or a crash leaves it in place. A watch on it sees the deletion as it
 * happens; at stop time a direct read confirms. When that read is refused (401/403) the ServiceAccount or its
 * RBAC is being deleted with the release, which also means uninstall. Any other failure (API unreachable) keeps
 * the plugin in place: a leftover plugin delays pods until the agent returns, a wrongly removed one lets pods
 * start unmeshed.
 */
public final class SelfDaemonSet implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SelfDaemonSet.class);

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final SharedIndexInformer<DaemonSet> informer;
  private volatile boolean deletionSeen;

  public SelfDaemonSet(KubernetesClient client, String namespace, String name) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.informer = client.apps().daemonSets().inNamespace(namespace).withField("metadata.name", name)
        .inform(new ResourceEventHandler<DaemonSet>() {
          @Override
          public void onAdd(DaemonSet daemonSet) {
            note(daemonSet);
          }

          @Override
          public void onUpdate(DaemonSet before, DaemonSet after) {
            note(after);
          }

          @Override
          public void onDelete(DaemonSet daemonSet, boolean unknownFinalState) {
            if (name.equals(daemonSet.getMetadata().getName())) {
              deletionSeen = true;
              log.info("DaemonSet {}/{} deleted: this agent uninstalls nodemesh from the node when it stops",
                  namespace, name);
            }
          }
        });
  }

  private void note(DaemonSet daemonSet) {
    if (name.equals(daemonSet.getMetadata().getName()) && daemonSet.getMetadata().getDeletionTimestamp() != null) {
      deletionSeen = true;
    }
  }

  /** Whether the agent's DaemonSet is gone or going: the stop is an uninstall. */
  public boolean goingAway() {
    if (deletionSeen) {
      return true;
    }
    try {
      DaemonSet current = client.apps().daemonSets().inNamespace(namespace).withName(name).get();
      return current == null || current.getMetadata().getDeletionTimestamp() != null;
    } catch (KubernetesClientException e) {
      boolean refused = e.getCode() == 401 || e.getCode() == 403;
      log.info("reading DaemonSet {}/{} failed ({}): {}", namespace, name, e.getCode(),
          refused ? "credentials revoked with the release, uninstalling" : "keeping the plugin installed");
      return refused;
    }
  }

  @Override
  public void close() {
    informer.close();
  }
}
