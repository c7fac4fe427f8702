package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Resources a client rejected, found by NACK isolation, withheld from that client (by node id, so a
 * reconnect does not resend them) until their content changes. Bounded: at most a fixed number of entries
 * per client, entries go away once the resource changes or disappears, and clients that stay disconnected
 * are forgotten by {@link #sweep}.
 *
 * <p>Thread-safe: streams of different clients add and read concurrently.
 */
public final class Quarantine {

  /**
   * One withheld resource.
   *
   * @param nodeId the client (node.id) that rejected it
   * @param type its type
   * @param name its name
   * @param version the rejected version (content hash)
   * @param error the client's NACK message
   * @param atMillis when it was quarantined
   */
  public record Entry(String nodeId, ResourceType type, String name, String version, String error, long atMillis) {}

  private record Key(ResourceType type, String name) {}

  private static final class Client {
    final Map<Key, Entry> entries = new ConcurrentHashMap<>();
    volatile long lastSeenMillis;
  }

  private final Map<String, Client> clients = new ConcurrentHashMap<>();

  /** Adds an entry; returns false (and adds nothing) when the client already has {@code max} entries. */
  boolean add(Entry entry, int max, long nowMillis) {
    Client client = clients.computeIfAbsent(entry.nodeId(), id -> new Client());
    client.lastSeenMillis = nowMillis;
    Key key = new Key(entry.type(), entry.name());
    if (client.entries.size() >= max && !client.entries.containsKey(key)) {
      return false;
    }
    client.entries.put(key, entry);
    return true;
  }

  /**
   * Whether {@code resource} is withheld from {@code nodeId}. An entry for another version of the resource
   * is dropped here: its content changed, so the client gets the new one.
   */
  boolean withheld(String nodeId, Resource resource) {
    Client client = clients.get(nodeId);
    if (client == null || client.entries.isEmpty()) {
      return false;
    }
    Key key = new Key(resource.type(), resource.name());
    Entry entry = client.entries.get(key);
    if (entry == null) {
      return false;
    }
    if (entry.version().equals(resource.version())) {
      return true;
    }
    client.entries.remove(key, entry);
    return false;
  }

  /** Whether the client has nothing quarantined (the common case; one map look-up). */
  boolean isEmpty(String nodeId) {
    Client client = clients.get(nodeId);
    return client == null || client.entries.isEmpty();
  }

  /** A client's entries of one type, sorted by name. */
  public ImmutableList<Entry> of(String nodeId, ResourceType type) {
    Client client = clients.get(nodeId);
    if (client == null) {
      return ImmutableList.of();
    }
    return client.entries.values().stream()
        .filter(entry -> entry.type() == type)
        .sorted(Comparator.comparing(Entry::name))
        .collect(ImmutableList.toImmutableList());
  }

  /** Every entry, sorted by node id, type and name. */
  public ImmutableList<Entry> all() {
    List<Entry> all = new ArrayList<>();
    clients.values().forEach(client -> all.addAll(client.entries.values()));
    all.sort(Comparator.comparing(Entry::nodeId).thenComparing(Entry::type).thenComparing(Entry::name));
    return ImmutableList.copyOf(all);
  }

  /** Number of entries over all clients. */
  public int size() {
    return clients.values().stream().mapToInt(client -> client.entries.size()).sum();
  }

  /** Marks a client as connected now (so the sweep keeps its entries). */
  void seen(String nodeId, long nowMillis) {
    Client client = clients.get(nodeId);
    if (client != null) {
      client.lastSeenMillis = nowMillis;
    }
  }

  /**
   * Drops entries whose resource changed or is gone, and clients without a live stream that were last seen
   * more than {@code forgetAfterMillis} ago.
   */
  void sweep(StoreSnapshot snapshot, Set<String> liveNodeIds, long nowMillis, long forgetAfterMillis) {
    for (Map.Entry<String, Client> client : clients.entrySet()) {
      boolean live = liveNodeIds.contains(client.getKey());
      if (live) {
        client.getValue().lastSeenMillis = nowMillis;
      } else if (nowMillis - client.getValue().lastSeenMillis > forgetAfterMillis) {
        clients.remove(client.getKey(), client.getValue());
        continue;
      }
      client.getValue().entries.values().removeIf(entry -> {
        Resource current = snapshot.table(entry.type()).get(entry.name());
        return current == null || !current.version().equals(entry.version());
      });
    }
  }
}
