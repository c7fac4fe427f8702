package io.nodemesh.k8s;

import com.google.common.collect.ImmutableSet;
import io.nodemesh.model.ObjectKey;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What moved between two published cluster states, so later layers rebuild only what a change touches.
 * Immutable; merge batches with {@link #merge} or a {@link Builder}.
 *
 * @param pods pods added, removed or changed in the model (including their mesh status)
 * @param podNodes nodes whose set of pods or whose pods' content changed; a pod that moved reports both nodes
 * @param services services added, removed or changed
 * @param endpoints services whose EndpointSlices changed (a slice relabelled to another service reports both)
 * @param namespaces namespaces added, removed or relabelled (their pods' mesh flips are in {@code pods})
 * @param nodes Node objects added, removed or changed (zone, region, readiness, addresses)
 * @param full everything must be treated as changed (the first state after sync, or a late subscriber); the
 *     sets may then be incomplete
 * @param earliestEventNanos {@link System#nanoTime()} when the earliest informer event of the batch was
 *     observed, for measuring event-to-ACK convergence
 */
public record Change(
    ImmutableSet<ObjectKey> pods,
    ImmutableSet<String> podNodes,
    ImmutableSet<ObjectKey> services,
    ImmutableSet<ObjectKey> endpoints,
    ImmutableSet<String> namespaces,
    ImmutableSet<String> nodes,
    boolean full,
    long earliestEventNanos) {

  public Change {
    pods = pods == null ? ImmutableSet.of() : pods;
    podNodes = podNodes == null ? ImmutableSet.of() : podNodes;
    services = services == null ? ImmutableSet.of() : services;
    endpoints = endpoints == null ? ImmutableSet.of() : endpoints;
    namespaces = namespaces == null ? ImmutableSet.of() : namespaces;
    nodes = nodes == null ? ImmutableSet.of() : nodes;
  }

  /** A change that tells consumers to recompute everything. */
  public static Change full(long observedNanos) {
    return new Change(null, null, null, null, null, null, true, observedNanos);
  }

  /** Whether any Node object (not a pod on it) changed. */
  public boolean nodesChanged() {
    return !nodes.isEmpty();
  }

  /** True when nothing changed and nothing needs recomputing. */
  public boolean isEmpty() {
    return !full && pods.isEmpty() && podNodes.isEmpty() && services.isEmpty() && endpoints.isEmpty()
        && namespaces.isEmpty() && nodes.isEmpty();
  }

  /** The union of both changes, keeping the earlier observation time. */
  public Change merge(Change other) {
    return builder().add(this).add(other).build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The earlier of two {@link System#nanoTime()} readings (overflow-safe, as nanoTime requires). */
  static long earlier(long a, long b) {
    return a - b <= 0 ? a : b;
  }

  /** Accumulates changes without copying sets on every merge. Not thread-safe. */
  public static final class Builder {
    private final Set<ObjectKey> pods = new LinkedHashSet<>();
    private final Set<String> podNodes = new LinkedHashSet<>();
    private final Set<ObjectKey> services = new LinkedHashSet<>();
    private final Set<ObjectKey> endpoints = new LinkedHashSet<>();
    private final Set<String> namespaces = new LinkedHashSet<>();
    private final Set<String> nodes = new LinkedHashSet<>();
    private boolean full;
    private boolean hasTime;
    private long earliest;

    private Builder() {}

    public Builder add(Change change) {
      pods.addAll(change.pods);
      podNodes.addAll(change.podNodes);
      services.addAll(change.services);
      endpoints.addAll(change.endpoints);
      namespaces.addAll(change.namespaces);
      nodes.addAll(change.nodes);
      full |= change.full;
      observedAt(change.earliestEventNanos);
      return this;
    }

    public Builder pod(ObjectKey key) {
      pods.add(key);
      return this;
    }

    public Builder podNode(String node) {
      podNodes.add(node);
      return this;
    }

    public Builder service(ObjectKey key) {
      services.add(key);
      return this;
    }

    public Builder endpoints(ObjectKey service) {
      endpoints.add(service);
      return this;
    }

    public Builder namespace(String name) {
      namespaces.add(name);
      return this;
    }

    public Builder node(String name) {
      nodes.add(name);
      return this;
    }

    public Builder full(boolean value) {
      full |= value;
      return this;
    }

    /** Records an event observation time; the change keeps the earliest. */
    public Builder observedAt(long nanos) {
      earliest = hasTime ? earlier(earliest, nanos) : nanos;
      hasTime = true;
      return this;
    }

    public boolean isEmpty() {
      return !full && pods.isEmpty() && podNodes.isEmpty() && services.isEmpty() && endpoints.isEmpty()
          && namespaces.isEmpty() && nodes.isEmpty();
    }

    public Change build() {
      return new Change(
          ImmutableSet.copyOf(pods),
          ImmutableSet.copyOf(podNodes),
          ImmutableSet.copyOf(services),
          ImmutableSet.copyOf(endpoints),
          ImmutableSet.copyOf(namespaces),
          ImmutableSet.copyOf(nodes),
          full,
          hasTime ? earliest : System.nanoTime());
    }
  }
}
