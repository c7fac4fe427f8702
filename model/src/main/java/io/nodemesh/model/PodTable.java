package io.nodemesh.model;

import com.google.common.collect.ImmutableMap;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * An immutable map ObjectKey -> PodInfo split into hash shards, so that the next state copies only the shards
 * whose pods changed and shares the others: one pod event at 30,000 pods copies ~120 entries, not 30,000.
 * Unordered; {@link ClusterState#pods()} sorts on demand. Thread-safe (immutable).
 */
final class PodTable {

  private static final int BITS = 8;
  private static final int SHARDS = 1 << BITS;

  private final ImmutableMap<ObjectKey, PodInfo>[] shards;
  private final int size;

  private PodTable(ImmutableMap<ObjectKey, PodInfo>[] shards, int size) {
    this.shards = shards;
    this.size = size;
  }

  @SuppressWarnings({"unchecked", "rawtypes"}) // generic array creation
  static PodTable of(Map<ObjectKey, PodInfo> all) {
    Map<ObjectKey, PodInfo>[] grouped = new Map[SHARDS];
    for (Map.Entry<ObjectKey, PodInfo> entry : all.entrySet()) {
      int shard = shardOf(entry.getKey());
      if (grouped[shard] == null) {
        grouped[shard] = new HashMap<>();
      }
      grouped[shard].put(entry.getKey(), entry.getValue());
    }
    ImmutableMap<ObjectKey, PodInfo>[] shards = new ImmutableMap[SHARDS];
    Arrays.fill(shards, ImmutableMap.of());
    for (int i = 0; i < SHARDS; i++) {
      if (grouped[i] != null) {
        shards[i] = ImmutableMap.copyOf(grouped[i]);
      }
    }
    return new PodTable(shards, all.size());
  }

  /** Fibonacci hashing: record hash codes of similar keys cluster in the low bits. */
  private static int shardOf(ObjectKey key) {
    return (key.hashCode() * 0x9E3779B9) >>> (32 - BITS);
  }

  PodInfo get(ObjectKey key) {
    return shards[shardOf(key)].get(key);
  }

  int size() {
    return size;
  }

  void forEach(BiConsumer<ObjectKey, PodInfo> visitor) {
    for (ImmutableMap<ObjectKey, PodInfo> shard : shards) {
      shard.forEach(visitor);
    }
  }

  /** This table with each key of {@code changed} set to {@code current.apply(key)} (null: removed). */
  PodTable with(Set<ObjectKey> changed, Function<ObjectKey, PodInfo> current) {
    if (changed.isEmpty()) {
      return this;
    }
    Map<Integer, Map<ObjectKey, PodInfo>> copies = new HashMap<>();
    int nextSize = size;
    for (ObjectKey key : changed) {
      int shard = shardOf(key);
      Map<ObjectKey, PodInfo> copy = copies.computeIfAbsent(shard, i -> new HashMap<>(shards[i]));
      PodInfo value = current.apply(key);
      PodInfo previous = value == null ? copy.remove(key) : copy.put(key, value);
      nextSize += (value == null ? 0 : 1) - (previous == null ? 0 : 1);
    }
    ImmutableMap<ObjectKey, PodInfo>[] next = shards.clone();
    copies.forEach((shard, copy) -> next[shard] = ImmutableMap.copyOf(copy));
    return new PodTable(next, nextSize);
  }
}
