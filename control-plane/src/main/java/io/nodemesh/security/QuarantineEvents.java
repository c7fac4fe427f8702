package io.nodemesh.security;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.nodemesh.log.SafeText;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.xds.NodeIdentity;
import io.nodemesh.xds.Quarantine;
import io.nodemesh.xds.XdsEventListener;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a quarantined resource into a Kubernetes Event (core/v1, type Warning, reason
 * {@value #REASON}) on the object it was generated from, so {@code kubectl describe pod} shows that the
 * node's Envoy rejected the pod's listener or cluster: a pod's own resources ({@code pod/{ns}/{pod}/...})
 * name the pod, a service's shared resources ({@code svc/{ns}/{svc}/{port}}, proxyless listeners) the
 * Service. The control plane's ClusterRole needs {@code create} on {@code events}.
 *
 * <p>Events are written on one background thread from a bounded queue (stream threads never wait for the
 * API); when the queue is full an event is dropped and counted. The text in an Event comes from a client, so
 * Events are bounded too: only clients authorized for a node or by a token cause them (an anonymous client's
 * rejections are logged only), at most one per object every {@link #PER_OBJECT_INTERVAL}, at most
 * {@link #PER_MINUTE} a minute in all; the rest are counted as suppressed. Thread-safe.
 */
public final class QuarantineEvents implements XdsEventListener, AutoCloseable {

  public static final String REASON = "XdsResourceRejected";
  static final String COMPONENT = "nodemesh-control-plane";
  private static final int MAX_MESSAGE = 1024;
  /** One Event per involved object this often at most: enough for {@code kubectl describe} to show it. */
  static final Duration PER_OBJECT_INTERVAL = Duration.ofMinutes(10);
  /** Events written per minute at most, over all objects. */
  static final int PER_MINUTE = 30;
  /** Objects whose last Event time is remembered at most. */
  private static final int MAX_TRACKED_OBJECTS = 10_000;
  private static final Logger log = LoggerFactory.getLogger(QuarantineEvents.class);

  private final KubernetesClient client;
  private final Supplier<ClusterState> state;
  private final Clock clock;
  private final String instance;
  private final ThreadPoolExecutor writer;
  private final LongAdder created = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder suppressed = new LongAdder();
  private final Cache<String, Instant> lastEventByObject = CacheBuilder.newBuilder()
      .maximumSize(MAX_TRACKED_OBJECTS).expireAfterWrite(PER_OBJECT_INTERVAL).build();
  /** Start of the current minute window and Events written in it; guarded by {@code this}. */
  private Instant windowStart = Instant.EPOCH;
  private int inWindow;

  public QuarantineEvents(KubernetesClient client, Supplier<ClusterState> state, Clock clock, String instance) {
    this.client = client;
    this.state = state;
    this.clock = clock;
    this.instance = instance;
    this.writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(256), runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-events");
      thread.setDaemon(true);
      return thread;
    }, (task, executor) -> {
      failed.increment();
      log.warn("Kubernetes event queue full: an XdsResourceRejected event was dropped");
    });
  }

  @Override
  public void onQuarantine(NodeIdentity client, Quarantine.Entry entry) {
    if (client.principal().startsWith("peer:")) {
      // an anonymous client proves nothing: it must not write client-chosen text onto anyone's objects
      suppressed.increment();
      return;
    }
    Optional<ObjectReference> target = involvedObject(entry.name(), state.get());
    if (target.isEmpty()) {
      log.info("no Kubernetes object to attach the rejection of {} {} to; logged only", entry.type().shortName(),
          entry.name());
      return;
    }
    if (!admit(target.get())) {
      suppressed.increment();
      return;
    }
    Event event = event(target.get(), client, entry);
    writer.execute(() -> write(event));
  }

  /** Whether an Event on {@code target} may be written now (per-object interval and global rate). */
  private synchronized boolean admit(ObjectReference target) {
    Instant now = clock.instant();
    String key = target.getKind() + "/" + target.getNamespace() + "/" + target.getName();
    Instant last = lastEventByObject.getIfPresent(key);
    if (last != null && now.isBefore(last.plus(PER_OBJECT_INTERVAL))) {
      return false;
    }
    if (!now.isBefore(windowStart.plus(Duration.ofMinutes(1)))) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow >= PER_MINUTE) {
      return false;
    }
    inWindow++;
    lastEventByObject.put(key, now);
    return true;
  }

  private void write(Event event) {
    try {
      this.client.v1().events().inNamespace(event.getMetadata().getNamespace()).resource(event).create();
      created.increment();
      log.info("event {} on {} {}/{}: {}", REASON, event.getInvolvedObject().getKind(),
          event.getInvolvedObject().getNamespace(), event.getInvolvedObject().getName(), event.getMessage());
    } catch (RuntimeException e) {
      failed.increment();
      log.warn("could not create event {} on {} {}/{}: {}", REASON, event.getInvolvedObject().getKind(),
          event.getInvolvedObject().getNamespace(), event.getInvolvedObject().getName(), e.toString());
    }
  }

  Event event(ObjectReference target, NodeIdentity who, Quarantine.Entry entry) {
    String now = DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(clock.instant().getEpochSecond()));
    String message = "Envoy " + who.nodeId() + (who.nodeName().isEmpty() ? "" : " on node " + who.nodeName())
        + " rejected " + entry.type().shortName() + " " + entry.name() + " (version " + entry.version()
        + "); it is withheld from that Envoy until its configuration changes. Error: " + entry.error();
    message = SafeText.of(message, MAX_MESSAGE);
    return new EventBuilder()
        .withNewMetadata()
            .withNamespace(target.getNamespace())
            .withName(target.getName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()))
        .endMetadata()
        .withInvolvedObject(target)
        .withReason(REASON)
        .withType("Warning")
        .withMessage(message)
        .withCount(1)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withNewSource().withComponent(COMPONENT).endSource()
        .withReportingComponent("nodemesh.io/control-plane")
        .withReportingInstance(instance)
        .build();
  }

  /** The pod or Service a resource name was generated for (ARCHITECTURE.md §5 names), if it is in the model. */
  static Optional<ObjectReference> involvedObject(String resourceName, ClusterState state) {
    Optional<ObjectKey> pod = ResourceNames.podOf(resourceName);
    if (pod.isPresent()) {
      return state.pod(pod.get()).map(info -> reference("Pod", pod.get(), info.uid()));
    }
    return ResourceNames.serviceOf(resourceName).flatMap(service -> service(service, state));
  }

  private static Optional<ObjectReference> service(ObjectKey key, ClusterState state) {
    return state.service(key).map(ServiceInfo::key).map(k -> reference("Service", k, ""));
  }

  private static ObjectReference reference(String kind, ObjectKey key, String uid) {
    ObjectReferenceBuilder builder = new ObjectReferenceBuilder()
        .withApiVersion("v1").withKind(kind).withNamespace(key.namespace()).withName(key.name());
    if (!uid.isEmpty()) {
      builder.withUid(uid);
    }
    return builder.build();
  }

  /** Events written. */
  public long created() {
    return created.sum();
  }

  /** Events not written because of the per-object interval, the rate, or an anonymous client. */
  public long suppressed() {
    return suppressed.sum();
  }

  /** Events that could not be written (API error or full queue). */
  public long failed() {
    return failed.sum();
  }

  @Override
  public void close() {
    writer.shutdown();
    try {
      writer.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
