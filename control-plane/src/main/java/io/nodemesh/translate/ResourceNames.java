package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.net.InetAddresses;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.ServiceInfo;
import io.nodemesh.model.ServicePort;
import java.util.Optional;

/** The stable, readable resource names of ARCHITECTURE.md §5, used by the xDS store, tests and the admin API. */
public final class ResourceNames {

  private static final String POD_PREFIX = "pod/";
  private static final String OUTBOUND_SUFFIX = "/outbound";
  public static final String PASSTHROUGH = "passthrough";
  public static final String BLACKHOLE = "blackhole";
  public static final String CLUSTER_DOMAIN = "svc.cluster.local";
  /**
   * The cluster a route's unresolved backendRef points at. No resource has this name, so its share of the
   * traffic fails (the route asks Envoy for 500, as the Gateway API requires; proxyless clients see UNAVAILABLE).
   */
  public static final String UNRESOLVED_BACKEND = "unresolved-backend";

  private ResourceNames() {}

  /** {@code pod/{ns}/{pod}/outbound}: the pod's outbound listener. */
  public static String outboundListener(ObjectKey pod) {
    return podPrefix(pod) + OUTBOUND_SUFFIX;
  }

  /** {@code svc/{ns}/{svc}/{port}}: shared cluster, ClusterLoadAssignment and route config of a service port. */
  public static String servicePort(ObjectKey service, int port) {
    return "svc/" + service.namespace() + "/" + service.name() + "/" + port;
  }

  public static String servicePort(ServiceInfo service, ServicePort port) {
    return servicePort(service.key(), port.port());
  }

  /**
   * {@code dst/{clusterIp}/{port}}: the cluster a pod listener's service chain picks by the connection's original
   * destination. It must equal what Envoy formats from {@link #DESTINATION_CLUSTER_FORMAT}: Envoy prints an IPv6
   * address compressed and lowercase (inet_ntop, RFC 5952), as Guava's {@code toAddrString} does.
   */
  public static String destinationCluster(String clusterIp, int port) {
    return "dst/" + InetAddresses.toAddrString(InetAddresses.forString(clusterIp)) + "/" + port;
  }

  /** The substitution format that names {@link #destinationCluster} from a connection's original destination. */
  public static final String DESTINATION_CLUSTER_FORMAT =
      "dst/%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%/%DOWNSTREAM_LOCAL_PORT%";

  /**
   * {@code @zone/{zone}}: the suffix of a service port's variant for clients in {@code zone} (trafficDistribution
   * PreferClose/PreferSameZone). The zone is a validated label value ({@code [-A-Za-z0-9_.]}, no '%'), so it is
   * inert in a substitution format string too.
   */
  public static String zoneSuffix(String zone) {
    return "@zone/" + zone;
  }

  /** {@code @node/{node}}: the suffix of a variant for clients on {@code node} (PreferSameNode); a DNS subdomain. */
  public static String nodeSuffix(String node) {
    return "@node/" + node;
  }

  /**
   * {@code {base}{suffix}}: a variant of a service-layer name ({@code svc/...} or {@code dst/...}) whose endpoints
   * are in priorities by closeness to the client; {@code suffix} from {@link #zoneSuffix} or {@link #nodeSuffix}.
   */
  public static String variant(String base, String suffix) {
    return base + suffix;
  }

  /**
   * The ApiListener of a variant for proxyless clients: {@code {zone}.zone.{listener}} or {@code {node}.node.{listener}}
   * (e.g. {@code zone-a.zone.web.shop.svc.cluster.local:80}). Not {@link #variant}'s suffix: a gRPC client takes its
   * target's name as the channel's authority, which may not hold an {@code @}; zone label values and node names are
   * valid there.
   */
  public static String proxylessVariant(String listener, Proximity proximity) {
    return proximity.node().map(ResourceNames::nodeVariantPrefix)
        .orElseGet(() -> zoneVariantPrefix(proximity.zone().orElseThrow())) + listener;
  }

  /**
   * The prefixes of the {@link #proxylessVariant}s that serve a client at {@code where}, most specific first
   * ({@code {node}.node.}, {@code {zone}.zone.}): a proxyless client there asking for listener {@code X} is served the
   * first {@code prefix + X} the store holds (a Service asks for one kind of variant, so at most one exists).
   */
  public static ImmutableList<String> proxylessVariantPrefixes(NodeLocality where) {
    ImmutableList.Builder<String> prefixes = ImmutableList.builder();
    where.node().ifPresent(node -> prefixes.add(nodeVariantPrefix(node)));
    where.zone().ifPresent(zone -> prefixes.add(zoneVariantPrefix(zone)));
    return prefixes.build();
  }

  private static String nodeVariantPrefix(String node) {
    return node + ".node.";
  }

  private static String zoneVariantPrefix(String zone) {
    return zone + ".zone.";
  }

  /** The name without its variant suffix ({@code svc/ns/web/80@zone/a} -> {@code svc/ns/web/80}). */
  public static String baseOf(String name) {
    int at = name.indexOf('@');
    return at < 0 ? name : name.substring(0, at);
  }

  /** {@link #DESTINATION_CLUSTER_FORMAT} naming a variant of the destination cluster ({@code suffix} is literal). */
  public static String destinationClusterFormat(String suffix) {
    return DESTINATION_CLUSTER_FORMAT + suffix;
  }

  /** {@code pod/{ns}/{pod}/svc/{svcNs}/{svc}/{port}}: per-pod cluster (per-pod binding mode). */
  public static String perPodServiceCluster(ObjectKey pod, ObjectKey service, int port) {
    return podPrefix(pod) + "/" + servicePort(service, port);
  }

  /** {@code passthrough} in shared mode, {@code pod/{ns}/{pod}/passthrough} in per-pod mode. */
  public static String passthroughCluster(PodInfo pod, UpstreamBinding binding) {
    return binding == UpstreamBinding.SHARED ? PASSTHROUGH : podPrefix(pod.key()) + "/" + PASSTHROUGH;
  }

  /** {@code {svc}.{ns}.svc.cluster.local:{port}}: the listener a proxyless gRPC client asks for. */
  public static String proxylessListener(ObjectKey service, int port) {
    return service.name() + "." + service.namespace() + "." + CLUSTER_DOMAIN + ":" + port;
  }

  /** {@code {svc}.{ns}:{port}}: the short form of the proxyless listener name. */
  public static String proxylessShortListener(ObjectKey service, int port) {
    return service.name() + "." + service.namespace() + ":" + port;
  }

  /** Envoy stat prefixes become metric names: keep them to characters every stats sink accepts. */
  public static String statPrefix(String resourceName) {
    // [^A-Za-z0-9_.-] -> '_', one per code point as the regex did, without a regex: this runs for every chain
    // of every pod listener
    StringBuilder out = null;
    int length = resourceName.length();
    for (int i = 0; i < length; i++) {
      char c = resourceName.charAt(i);
      if (statChar(c)) {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      if (out == null) {
        out = new StringBuilder(length).append(resourceName, 0, i);
      }
      out.append('_');
      if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(resourceName.charAt(i + 1))) {
        i++;
      }
    }
    return out == null ? resourceName : out.toString();
  }

  private static boolean statChar(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-';
  }

  /** Whether a name is one pod's own (its listener, its per-pod clusters): owned by that pod's node only. */
  public static boolean isPerPod(String name) {
    return name.startsWith(POD_PREFIX);
  }

  /** Whether a name is one of {@code pod}'s own resources. */
  public static boolean isOwnedBy(String name, ObjectKey pod) {
    return name.startsWith(podPrefix(pod) + "/");
  }

  /** The pod a per-pod name ({@code pod/{ns}/{pod}/...}) was generated for. */
  public static Optional<ObjectKey> podOf(String name) {
    String[] parts = name.split("/", -1);
    return parts.length >= 4 && name.startsWith(POD_PREFIX) ? Optional.of(ObjectKey.of(parts[1], parts[2]))
        : Optional.empty();
  }

  /**
   * The service a service-port name ({@code svc/{ns}/{svc}/{port}}, or a variant of it) or a proxyless listener name
   * ({@code {svc}.{ns}.svc.cluster.local:{port}}, {@code {svc}.{ns}:{port}}) was generated for.
   */
  public static Optional<ObjectKey> serviceOf(String name) {
    String[] parts = (name.startsWith("svc/") ? baseOf(name) : name).split("/", -1);
    if (parts.length == 4 && parts[0].equals("svc")) {
      return Optional.of(ObjectKey.of(parts[1], parts[2]));
    }
    int colon = name.lastIndexOf(':');
    if (colon > 0 && parts.length == 1) {
      String[] host = name.substring(0, colon).split("\\.");
      if (host.length >= 2) {
        return Optional.of(ObjectKey.of(host[1], host[0]));
      }
    }
    return Optional.empty();
  }

  /** Whether a per-pod name is the pod's outbound listener (else it is one of its clusters). */
  public static boolean isOutboundListener(String perPodName) {
    return perPodName.endsWith(OUTBOUND_SUFFIX);
  }

  private static String podPrefix(ObjectKey pod) {
    return POD_PREFIX + pod.namespace() + "/" + pod.name();
  }
}
