package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Resources a client rejected, found by NACK isolation, withheld from that client until their content changes.
 * Kept per authorized principal and, under it, per {@code node.id}: a reconnect does not resend them, and a
 * client can never withhold anything from a client authorized as someone else, whatever {@code node.id} it
 * claims.
 *
 * <p>Bounded: at most {@code maxPerClient} entries per principal (whatever node ids it uses) and {@code maxTotal}
 * over all principals, each with an
 * error text of at most {@link XdsTunables#MAX_NACK_CHARS}; entries go away once the resource changes or
 * disappears, and clients without a stream are forgotten by {@link #sweep}.
 *
 * <p>Thread-safe: streams of different clients read concurrently without locking (the push path asks
 * {@link #isEmpty} for every push); changes take the object's lock so the total stays exact.
 */
public final class Quarantine {

  /**
   * One withheld resource.
   *
   * @param principal who the rejecting client was authorized as
   * @param nodeId the {@code node.id} it used
   * @param type its type
   * @param name its name
   * @param version the rejected version (content hash)
   * @param error the client's NACK message (bounded)
   * @param atMillis when it was quarantined
   * @param localPrefixes the client's locality ({@link NodeIdentity#localPrefixes()}): the name may be served from a
   *     variant, whose version the entry holds
   */
  public record Entry(String principal, String nodeId, ResourceType type, String name, String version, String error,
      long atMillis, ImmutableList<String> localPrefixes) {

    public Entry {
      localPrefixes = localPrefixes == null ? ImmutableList.of() : localPrefixes;
    }

    /** An entry of a client served every resource by its own name. */
    public Entry(String principal, String nodeId, ResourceType type, String name, String version, String error,
        long atMillis) {
      this(principal, nodeId, type, name, version, error, atMillis, ImmutableList.of());
    }
  }

  /** Why {@link #add} did not add an entry. */
  enum Refusal {
    /** The client's principal already has its maximum number of entries. */
    CLIENT_FULL,
    /** The server already holds its maximum number of entries over all clients. */
    TOTAL_FULL
  }

  /** One client's name: the same name served from another locality is another resource. */
  private record Key(String nodeId, ResourceType type, String name, ImmutableList<String> localPrefixes) {}

  private static final class Client {
    final Map<Key, Entry> entries = new ConcurrentHashMap<>();
    volatile long lastSeenMillis;
  }

  private final int maxPerClient;
  private final int maxTotal;
  /** By principal. */
  private final Map<String, Client> clients = new ConcurrentHashMap<>();
  /** Entries over all clients; changed only under the lock. */
  private int total;

  /** A quarantine holding at most {@code maxPerClient} entries per client and {@code maxTotal} in all. */
  public Quarantine(int maxPerClient, int maxTotal) {
    this.maxPerClient = maxPerClient;
    this.maxTotal = maxTotal;
  }

  /** Adds an entry; returns null when added (or replaced), else why nothing was added. */
  synchronized Refusal add(Entry entry, long nowMillis) {
    Key key = new Key(entry.nodeId(), entry.type(), entry.name(), entry.localPrefixes());
    Client client = clients.get(entry.principal());
    boolean replaces = client != null && client.entries.containsKey(key);
    if (!replaces) {
      if (client != null && client.entries.size() >= maxPerClient) {
        return Refusal.CLIENT_FULL;
      }
      if (total >= maxTotal) {
        return Refusal.TOTAL_FULL;
      }
    }
    if (client == null) {
      client = new Client();
      clients.put(entry.principal(), client);
    }
    client.lastSeenMillis = nowMillis;
    client.entries.put(key, entry);
    if (!replaces) {
      total++;
    }
    return null;
  }

  /**
   * Whether {@code resource} is withheld from {@code client}. An entry for another version of the resource is
   * dropped here: its content changed, so the client gets the new one.
   */
  boolean withheld(NodeIdentity who, Resource resource) {
    Client client = clients.get(who.principal());
    if (client == null || client.entries.isEmpty()) {
      return false;
    }
    Key key = new Key(who.nodeId(), resource.type(), resource.name(), who.localPrefixes(resource.type()));
    Entry entry = client.entries.get(key);
    if (entry == null) {
      return false;
    }
    if (entry.version().equals(resource.version())) {
      return true;
    }
    synchronized (this) {
      if (client.entries.remove(key, entry)) {
        total--;
      }
    }
    return false;
  }

  /**
   * Drops the entries of {@code who} (principal and node.id) and {@code type} whose resource is gone from
   * {@code table} or changed there: a rejected resource that was removed (or fixed) is withheld no longer, and
   * the client shows synced at the next push instead of at the next sweep.
   */
  void forgetStale(NodeIdentity who, ResourceType type, ResourceTable table) {
    Client client = clients.get(who.principal());
    if (client == null || client.entries.isEmpty()) {
      return;
    }
    synchronized (this) {
      int before = client.entries.size();
      client.entries.values().removeIf(entry -> {
        if (entry.type() != type || !entry.nodeId().equals(who.nodeId())
            || !entry.localPrefixes().equals(who.localPrefixes(type))) {
          return false;
        }
        Resource current = table.get(entry.name());
        return current == null || !current.version().equals(entry.version());
      });
      total -= before - client.entries.size();
    }
  }

  /** Whether the client's principal has nothing quarantined (the common case; one map look-up, no lock). */
  boolean isEmpty(NodeIdentity who) {
    Client client = clients.get(who.principal());
    return client == null || client.entries.isEmpty();
  }

  /** A client's entries of one type, sorted by name. */
  public ImmutableList<Entry> of(NodeIdentity who, ResourceType type) {
    Client client = clients.get(who.principal());
    if (client == null) {
      return ImmutableList.of();
    }
    return client.entries.values().stream()
        .filter(entry -> entry.type() == type && entry.nodeId().equals(who.nodeId())
            && entry.localPrefixes().equals(who.localPrefixes(type)))
        .sorted(Comparator.comparing(Entry::name))
        .collect(ImmutableList.toImmutableList());
  }

  /** Every entry, sorted by node id, principal, type and name. */
  public ImmutableList<Entry> all() {
    List<Entry> all = new ArrayList<>();
    clients.values().forEach(client -> all.addAll(client.entries.values()));
    all.sort(Comparator.comparing(Entry::nodeId).thenComparing(Entry::principal).thenComparing(Entry::type)
        .thenComparing(Entry::name));
    return ImmutableList.copyOf(all);
  }

  /** Number of entries over all clients. */
  public synchronized int size() {
    return total;
  }

  /**
   * Drops entries whose resource changed or is gone, and principals without a live stream that were last seen
   * more than {@code forgetAfterMillis} ago.
   */
  synchronized void sweep(StoreSnapshot snapshot, Set<String> livePrincipals, long nowMillis, long forgetAfterMillis) {
    for (Iterator<Map.Entry<String, Client>> it = clients.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Client> each = it.next();
      Client client = each.getValue();
      if (livePrincipals.contains(each.getKey())) {
        client.lastSeenMillis = nowMillis;
      } else if (nowMillis - client.lastSeenMillis > forgetAfterMillis) {
        total -= client.entries.size();
        it.remove();
        continue;
      }
      int before = client.entries.size();
      client.entries.values().removeIf(entry -> {
        Resource current = snapshot.table(entry.type()).servedWith(entry.localPrefixes()).get(entry.name());
        return current == null || !current.version().equals(entry.version());
      });
      total -= before - client.entries.size();
      if (client.entries.isEmpty() && !livePrincipals.contains(each.getKey())) {
        it.remove();
      }
    }
  }
}
