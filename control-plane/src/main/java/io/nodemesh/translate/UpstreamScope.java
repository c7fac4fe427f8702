package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Which service ports a pod's outbound listener gets a filter chain (and, in per-pod mode, a cluster) for.
 * All translated TCP service ports with a cluster IP by default; the pod annotation {@code nodemesh.io/upstreams} (comma list
 * of {@code svc.ns} or {@code svc.ns:port}) narrows that, which bounds per-pod mode's pods x ports cost.
 * Traffic to anything outside the scope still flows, through the passthrough cluster.
 */
public final class UpstreamScope {

  public static final String ANNOTATION = "nodemesh.io/upstreams";
  private static final Pattern ENTRY =
      Pattern.compile("([a-z]([-a-z0-9]{0,61}[a-z0-9])?)\\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(:([0-9]{1,5}))?");
  /** A scope longer than this is not a hand-written list; refuse it rather than parse it. */
  private static final int MAX_ENTRIES = 1000;

  private UpstreamScope() {}

  /** Whether the pod narrowed its scope with the annotation (else it may call every service port). */
  public static boolean scoped(PodInfo pod) {
    return pod.annotations().containsKey(ANNOTATION);
  }

  /**
   * The service ports this pod may call. Entries of the annotation that do not parse are reported and
   * ignored; entries naming unknown services are ignored silently (the service may come later).
   */
  public static ImmutableList<OutboundService> forPod(
      PodInfo pod, ImmutableList<OutboundService> all, Consumer<String> problems) {
    String annotation = pod.annotations().get(ANNOTATION);
    if (annotation == null) {
      return all;
    }
    Parsed parsed = Parsed.of(annotation);
    parsed.report(problems);
    ImmutableList.Builder<OutboundService> scoped = ImmutableList.builder();
    for (OutboundService outbound : all) {
      if (parsed.includes(outbound)) {
        scoped.add(outbound);
      }
    }
    return scoped.build();
  }

  /** An annotation, parsed: the services wanted with all their ports, and those wanted on some ports. */
  private record Parsed(Set<ObjectKey> allPorts, Map<ObjectKey, Set<Integer>> wanted, String problem) {

    static Parsed of(String annotation) {
      String[] entries = annotation.split(",", -1);
      if (entries.length > MAX_ENTRIES) {
        return new Parsed(Set.of(), Map.of(),
            ANNOTATION + " has more than " + MAX_ENTRIES + " entries; no service is in scope");
      }
      Map<ObjectKey, Set<Integer>> wanted = new HashMap<>();
      Set<ObjectKey> allPorts = new HashSet<>();
      List<String> bad = new ArrayList<>();
      for (String raw : entries) {
        String entry = raw.trim();
        if (entry.isEmpty()) {
          continue;
        }
        var match = ENTRY.matcher(entry);
        if (!match.matches()) {
          bad.add(entry.length() > 40 ? entry.substring(0, 40) + "..." : entry);
          continue;
        }
        ObjectKey service = ObjectKey.of(match.group(3), match.group(1));
        if (match.group(6) == null) {
          allPorts.add(service);
        } else {
          wanted.computeIfAbsent(service, k -> new HashSet<>()).add(Integer.parseInt(match.group(6)));
        }
      }
      String problem = bad.isEmpty() ? null
          : ANNOTATION + ": ignored entries that are not svc.ns or svc.ns:port: " + String.join(", ", bad);
      return new Parsed(allPorts, wanted, problem);
    }

    void report(Consumer<String> problems) {
      if (problem != null) {
        problems.accept(problem);
      }
    }

    boolean includes(OutboundService outbound) {
      ObjectKey key = outbound.service().key();
      return allPorts.contains(key) || wanted.getOrDefault(key, Set.of()).contains(outbound.port().port());
    }

    Set<ObjectKey> services() {
      Set<ObjectKey> all = new HashSet<>(allPorts);
      all.addAll(wanted.keySet());
      return all;
    }
  }

  /**
   * {@link #forPod} for many pods over one list of service ports, with the same results: the ports are indexed
   * by service and each distinct annotation is parsed once, so a pod's scope costs O(entries of its
   * annotation), not O(all service ports). Not thread-safe (it memoises): one per translating thread.
   */
  public static final class Index {
    /** Distinct annotations remembered; beyond that the memo starts over (annotations are per workload). */
    private static final int MAX_MEMO = 100_000;

    private final ImmutableList<OutboundService> all;
    private final Map<ObjectKey, int[]> positions = new HashMap<>();
    private final Map<String, Scoped> memo = new HashMap<>();

    /** The scope an annotation gives over this index's ports, and the problem to report for it (or null). */
    private record Scoped(ImmutableList<OutboundService> scope, String problem) {}

    public Index(ImmutableList<OutboundService> all) {
      this.all = all;
      Map<ObjectKey, List<Integer>> byService = new HashMap<>();
      for (int i = 0; i < all.size(); i++) {
        byService.computeIfAbsent(all.get(i).service().key(), k -> new ArrayList<>()).add(i);
      }
      byService.forEach((service, list) -> positions.put(service, list.stream().mapToInt(Integer::intValue).toArray()));
    }

    /** Every service port this index covers ({@link SharedResources#allOutbound}). */
    public ImmutableList<OutboundService> all() {
      return all;
    }

    /**
     * Same as {@link UpstreamScope#forPod(PodInfo, ImmutableList, Consumer)} over this index's ports. Pods with
     * the same annotation get the same list instance.
     */
    public ImmutableList<OutboundService> forPod(PodInfo pod, Consumer<String> problems) {
      String annotation = pod.annotations().get(ANNOTATION);
      if (annotation == null) {
        return all;
      }
      Scoped scoped = memo.get(annotation);
      if (scoped == null) {
        if (memo.size() >= MAX_MEMO) {
          memo.clear();
        }
        scoped = scope(Parsed.of(annotation));
        memo.put(annotation, scoped);
      }
      if (scoped.problem() != null) {
        problems.accept(scoped.problem());
      }
      return scoped.scope();
    }

    private Scoped scope(Parsed parsed) {
      List<Integer> chosen = new ArrayList<>();
      for (ObjectKey service : parsed.services()) {
        for (int position : positions.getOrDefault(service, new int[0])) {
          if (parsed.includes(all.get(position))) {
            chosen.add(position);
          }
        }
      }
      chosen.sort(null); // the order of all, as forPod gives it
      ImmutableList.Builder<OutboundService> scope = ImmutableList.builderWithExpectedSize(chosen.size());
      chosen.forEach(position -> scope.add(all.get(position)));
      return new Scoped(scope.build(), parsed.problem());
    }
  }
}
