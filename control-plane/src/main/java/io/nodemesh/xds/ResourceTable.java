package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * An immutable map name -> {@link Resource} for one type, split into shards so that a new version shares
 * every untouched shard with the old one. That makes a batch cost O(touched shards) to apply and lets a
 * stream find what changed between the table it last sent and the current one by comparing shard
 * references, without walking thousands of entries.
 *
 * <p>A table may be seen from a locality ({@link #servedWith}): the same entries, but a name {@code X} answers
 * with the entry {@code prefix + X} (renamed {@code X}) when the table holds one. That is how a proxyless client
 * asking for a Service's listener gets its zone's trafficDistribution variant.
 */
final class ResourceTable {

  private static final int SHARDS = 1 << XdsTunables.TABLE_SHARD_BITS;

  static final ResourceTable EMPTY = new ResourceTable(emptyShards(), 0, ImmutableList.of());

  private final ImmutableMap<String, Resource>[] shards;
  private final int size;
  /** Name prefixes of the locality this table is seen from, most specific first; empty for the plain table. */
  private final ImmutableList<String> localPrefixes;

  private ResourceTable(ImmutableMap<String, Resource>[] shards, int size, ImmutableList<String> localPrefixes) {
    this.shards = shards;
    this.size = size;
    this.localPrefixes = localPrefixes;
  }

  /**
   * This table as a client of a locality sees it: {@link #get}{@code (X)} answers with the first {@code prefix + X}
   * held, served under the name {@code X}, else with {@code X}; differences are reported under the names served.
   */
  ResourceTable servedWith(ImmutableList<String> prefixes) {
    return prefixes.equals(localPrefixes) ? this : new ResourceTable(shards, size, prefixes);
  }

  @SuppressWarnings({"unchecked", "rawtypes"}) // generic array creation
  private static ImmutableMap<String, Resource>[] emptyShards() {
    ImmutableMap<String, Resource>[] shards = new ImmutableMap[SHARDS];
    Arrays.fill(shards, ImmutableMap.of());
    return shards;
  }

  /** Fibonacci hashing spreads String hash codes, whose low bits cluster for similar names. */
  private static int shardOf(String name) {
    return (name.hashCode() * 0x9E3779B9) >>> (32 - XdsTunables.TABLE_SHARD_BITS);
  }

  /** The resource served under that name (see {@link #servedWith}), or null. */
  Resource get(String name) {
    for (String prefix : localPrefixes) {
      Resource local = entry(prefix + name);
      if (local != null) {
        return local.servedAs(name);
      }
    }
    return entry(name);
  }

  private Resource entry(String name) {
    return shards[shardOf(name)].get(name);
  }

  /** Number of resources. */
  int size() {
    return size;
  }

  /** Visits every stored resource under its own name (no particular order). */
  void forEach(Consumer<Resource> visitor) {
    for (ImmutableMap<String, Resource> shard : shards) {
      shard.values().forEach(visitor);
    }
  }

  /**
   * A table with the given resources put (null value = removed). Returns this table when nothing changes.
   * Entries map name -> resource; the caller ensures resources are of this table's type.
   */
  ResourceTable with(Map<String, Resource> changes) {
    if (changes.isEmpty()) {
      return this;
    }
    Map<Integer, Map<String, Resource>> byShard = new HashMap<>();
    for (Map.Entry<String, Resource> change : changes.entrySet()) {
      byShard.computeIfAbsent(shardOf(change.getKey()), k -> new HashMap<>()).put(change.getKey(), change.getValue());
    }
    ImmutableMap<String, Resource>[] next = shards.clone();
    int nextSize = size;
    for (Map.Entry<Integer, Map<String, Resource>> shardChanges : byShard.entrySet()) {
      int index = shardChanges.getKey();
      Map<String, Resource> copy = new HashMap<>(shards[index]);
      for (Map.Entry<String, Resource> change : shardChanges.getValue().entrySet()) {
        Resource previous =
            change.getValue() == null
                ? copy.remove(change.getKey())
                : copy.put(change.getKey(), change.getValue());
        nextSize += (change.getValue() == null ? 0 : 1) - (previous == null ? 0 : 1);
      }
      next[index] = ImmutableMap.copyOf(copy);
    }
    return new ResourceTable(next, nextSize, localPrefixes);
  }

  /**
   * How many entries the shards that differ between this table and {@code other} hold (both sides), counting
   * only until {@code limit} is exceeded: what {@link #forEachDifference} would have to look at.
   */
  int differingEntries(ResourceTable other, int limit) {
    if (other.shards == shards) {
      return 0;
    }
    int count = 0;
    for (int i = 0; i < SHARDS && count <= limit; i++) {
      if (shards[i] != other.shards[i]) {
        count += shards[i].size() + other.shards[i].size();
      }
    }
    return count;
  }

  /**
   * Visits each name whose entry differs between this table and {@code other} (added, removed or
   * replaced), once. Shards shared by both tables are skipped without looking inside. Seen from a locality, a
   * differing {@code prefix + X} is also reported as {@code X}, the name it may be served under.
   */
  void forEachDifference(ResourceTable other, Consumer<String> visitor) {
    if (other.shards == shards) {
      return;
    }
    if (!localPrefixes.isEmpty()) {
      visitor = servedNames(visitor);
    }
    for (int i = 0; i < SHARDS; i++) {
      ImmutableMap<String, Resource> mine = shards[i];
      ImmutableMap<String, Resource> theirs = other.shards[i];
      if (mine == theirs) {
        continue;
      }
      for (Map.Entry<String, Resource> entry : mine.entrySet()) {
        if (theirs.get(entry.getKey()) != entry.getValue()) {
          visitor.accept(entry.getKey());
        }
      }
      for (String name : theirs.keySet()) {
        if (!mine.containsKey(name)) {
          visitor.accept(name);
        }
      }
    }
  }

  private Consumer<String> servedNames(Consumer<String> visitor) {
    Set<String> seen = new HashSet<>();
    return name -> {
      if (seen.add(name)) {
        visitor.accept(name);
      }
      for (String prefix : localPrefixes) {
        if (name.startsWith(prefix) && seen.add(name.substring(prefix.length()))) {
          visitor.accept(name.substring(prefix.length()));
        }
      }
    };
  }
}
