package io.nodemesh.admin;

import io.nodemesh.xds.NodeIdentity;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.XdsEventListener;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Links store generations to the Kubernetes events that caused them, so an ACK can be turned into
 * "event observed -> client ACKed" time: for the convergence histogram, and per node for {@code /debug/pods/...}.
 * A client's ACK counts only the generations that changed that client's resources of the type (the causes its
 * stream attached to the response, {@link XdsEventListener#onAck}), so churn elsewhere never lands in its
 * observations. Memory is bounded: the latest generations, the latest LDS ACKs per node, and a bounded number of
 * nodes; nothing per stream. A node's ACKs older than the oldest generation kept can answer nothing, so they are
 * dropped every {@value #PRUNE_EVERY} generations, and with them nodes that left the cluster.
 *
 * <p>Thread-safe: ACKs arrive on stream threads, generations on the translator thread; one lock guards it all
 * and every operation under it is a few map look-ups.
 */
public final class ConvergenceTracker implements XdsEventListener {

  private static final int MAX_GENERATIONS = 4096;
  private static final int MAX_ACKS_PER_NODE = 256;
  /** Nodes with LDS ACKs kept at most: far above any real cluster; a backstop against invented node names. */
  private static final int MAX_NODES = 100_000;
  /** How many generations pass between two passes that drop ACKs the kept generations no longer reach. */
  private static final int PRUNE_EVERY = MAX_GENERATIONS / 4;

  private record Event(long nanos, long wallMillis) {}

  private final NavigableMap<Long, Event> eventsByGeneration = new TreeMap<>();
  private final Map<String, NavigableMap<Long, Long>> listenerAcksByNode = new HashMap<>();
  private final BiConsumer<ResourceType, Double> convergenceSeconds;

  /**
   * {@code convergenceSeconds} receives one observation per (stream, type, generation that changed the stream's
   * resources of that type), when the client ACKs the first response carrying the change.
   */
  public ConvergenceTracker(BiConsumer<ResourceType, Double> convergenceSeconds) {
    this.convergenceSeconds = convergenceSeconds;
  }

  /** The store reached {@code generation} because of Kubernetes events first observed at {@code eventNanos}. */
  public synchronized void generationApplied(long generation, long eventNanos) {
    long ageMillis = (System.nanoTime() - eventNanos) / 1_000_000;
    eventsByGeneration.put(generation, new Event(eventNanos, System.currentTimeMillis() - ageMillis));
    while (eventsByGeneration.size() > MAX_GENERATIONS) {
      eventsByGeneration.pollFirstEntry();
    }
    if (generation % PRUNE_EVERY == 0) {
      long oldest = eventsByGeneration.firstKey();
      listenerAcksByNode.values().removeIf(acks -> {
        acks.headMap(oldest).clear();
        return acks.isEmpty();
      });
    }
  }

  @Override
  public void onAck(NodeIdentity client, ResourceType type, long generation, List<Long> causes) {
    long now = System.nanoTime();
    synchronized (this) {
      for (long cause : causes) {
        Event event = eventsByGeneration.get(cause);
        if (event != null) {
          convergenceSeconds.accept(type, (now - event.nanos()) / 1e9);
        }
      }
      if (type == ResourceType.LISTENER
          && (listenerAcksByNode.containsKey(client.nodeName()) || listenerAcksByNode.size() < MAX_NODES)) {
        NavigableMap<Long, Long> acks = listenerAcksByNode.computeIfAbsent(client.nodeName(), n -> new TreeMap<>());
        acks.putIfAbsent(generation, System.currentTimeMillis());
        while (acks.size() > MAX_ACKS_PER_NODE) {
          acks.pollFirstEntry();
        }
      }
    }
  }

  /**
   * When the Kubernetes change that produced store {@code generation} was observed (wall clock); empty once the
   * history no longer reaches back (the latest {@value #MAX_GENERATIONS} generations are kept).
   */
  public synchronized Optional<Long> observedAtMillis(long generation) {
    Event event = eventsByGeneration.get(generation);
    return event == null ? Optional.empty() : Optional.of(event.wallMillis());
  }

  /** Nodes with remembered LDS ACKs (bounded by {@link #MAX_NODES}). */
  public synchronized int trackedNodes() {
    return listenerAcksByNode.size();
  }

  /**
   * How long a listener that changed at {@code generation} took from its Kubernetes event to the first LDS
   * ACK of the node covering it; empty while not ACKed or when the history no longer reaches back.
   */
  public synchronized Optional<Long> listenerConvergenceMillis(String nodeName, long generation) {
    Event event = eventsByGeneration.get(generation);
    NavigableMap<Long, Long> acks = listenerAcksByNode.get(nodeName);
    if (event == null || acks == null) {
      return Optional.empty();
    }
    Map.Entry<Long, Long> firstCovering = acks.ceilingEntry(generation);
    return firstCovering == null ? Optional.empty()
        : Optional.of(Math.max(0, firstCovering.getValue() - event.wallMillis()));
  }
}
