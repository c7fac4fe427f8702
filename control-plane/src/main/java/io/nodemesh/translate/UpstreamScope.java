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
    String[] entries = annotation.split(",", -1);
    if (entries.length > MAX_ENTRIES) {
      problems.accept(ANNOTATION + " has more than " + MAX_ENTRIES + " entries; no service is in scope");
      return ImmutableList.of();
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
    if (!bad.isEmpty()) {
      problems.accept(ANNOTATION + ": ignored entries that are not svc.ns or svc.ns:port: " + String.join(", ", bad));
    }
    ImmutableList.Builder<OutboundService> scoped = ImmutableList.builder();
    for (OutboundService outbound : all) {
      ObjectKey key = outbound.service().key();
      if (allPorts.contains(key) || wanted.getOrDefault(key, Set.of()).contains(outbound.port().port())) {
        scoped.add(outbound);
      }
    }
    return scoped.build();
  }
}
