package io.nodemesh.admin;

import io.nodemesh.xds.NodeIdentity;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.XdsEventListener;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Links store generations to the Kubernetes events that caused them, so an ACK can be turned into
 * "event observed -> node ACKed" time: for the convergence histogram, and per node for
 * {@code /debug/pods/...}. Memory is bounded: only the latest generations and ACKs are kept, and what is kept
 * per client is kept per authorized stream and dropped when the stream closes.
 *
 * <p>Thread-safe: ACKs arrive on stream threads, generations on the translator thread; one lock guards it all
 * and every operation under it is a few map look-ups.
 */
public final class ConvergenceTracker implements XdsEventListener {

  private static final int MAX_GENERATIONS = 4096;
  private static final int MAX_ACKS_PER_NODE = 256;
  /** Stream entries kept at most: far above any real count of streams x 4 types; a backstop, never the rule. */
  private static final int MAX_STREAM_ENTRIES = 100_000;

  private record Event(long nanos, long wallMillis) {}

  private record StreamType(long streamId, ResourceType type) {}

  private final NavigableMap<Long, Event> eventsByGeneration = new TreeMap<>();
  /** Per (stream id, type): the last generation counted, so each convergence is observed once per stream. */
  private final Map<StreamType, Long> lastCountedByStream = new HashMap<>();
  private final Map<String, NavigableMap<Long, Long>> listenerAcksByNode = new HashMap<>();
  private final BiConsumer<ResourceType, Double> convergenceSeconds;

  /**
   * {@code convergenceSeconds} receives one observation per (stream, type, generation) that converged after the
   * stream's initial sync.
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
  }

  @Override
  public void onAck(NodeIdentity client, ResourceType type, long generation) {
    long now = System.nanoTime();
    synchronized (this) {
      StreamType stream = new StreamType(client.streamId(), type);
      Long counted = lastCountedByStream.get(stream);
      if (counted != null && generation <= counted) {
        return;
      }
      if (counted == null && lastCountedByStream.size() >= MAX_STREAM_ENTRIES) {
        lastCountedByStream.clear();
      }
      lastCountedByStream.put(stream, generation);
      // a stream's first ACK is its initial sync: it measures the connection, not how fast events converge,
      // and a reconnect (max connection age) would otherwise replay every remembered event as a late one
      if (counted != null) {
        for (Event event : eventsByGeneration.subMap(counted, false, generation, true).values()) {
          convergenceSeconds.accept(type, (now - event.nanos()) / 1e9);
        }
      }
      if (type == ResourceType.LISTENER) {
        NavigableMap<Long, Long> acks = listenerAcksByNode.computeIfAbsent(client.nodeName(), n -> new TreeMap<>());
        acks.putIfAbsent(generation, System.currentTimeMillis());
        while (acks.size() > MAX_ACKS_PER_NODE) {
          acks.pollFirstEntry();
        }
      }
    }
  }

  @Override
  public synchronized void onStreamClosed(NodeIdentity client) {
    for (ResourceType type : ResourceType.values()) {
      lastCountedByStream.remove(new StreamType(client.streamId(), type));
    }
  }

  /** Streams x types with a counted generation (bounded by the open streams). */
  public synchronized int trackedStreamTypes() {
    return lastCountedByStream.size();
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
