package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.net.InetAddresses;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.nodemesh.model.TrafficDistribution;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Collection;
import java.util.TreeSet;

/** The destinations a pod listener hands to the service layer: the service CIDRs, or every ClusterIP. */
public final class ServiceCidrs {

  private ServiceCidrs() {}

  /** {@code 10.96.0.0/12} as a CidrRange; IllegalArgumentException naming the entry when it is not one. */
  public static CidrRange parse(String cidr) {
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("not a CIDR (address/prefix length): " + cidr);
    }
    InetAddress address;
    int prefix;
    try {
      address = InetAddresses.forString(cidr.substring(0, slash));
      prefix = Integer.parseInt(cidr.substring(slash + 1));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a CIDR (address/prefix length): " + cidr, e);
    }
    int max = address instanceof Inet6Address ? 128 : 32;
    if (prefix < 0 || prefix > max) {
      throw new IllegalArgumentException("prefix length of " + cidr + " is not 0-" + max);
    }
    return range(InetAddresses.toAddrString(address), prefix);
  }

  /**
   * The prefix ranges of a pod listener's service chain: the configured CIDRs when there are any, else one
   * host range per ClusterIP of {@code ports} (sorted, so equal catalogues give equal listeners).
   */
  public static ImmutableList<CidrRange> prefixes(TranslatorOptions options, Collection<OutboundService> ports) {
    if (!options.serviceCidrs().isEmpty()) {
      return options.serviceCidrs().stream().map(ServiceCidrs::parse).collect(ImmutableList.toImmutableList());
    }
    TreeSet<String> ips = new TreeSet<>();
    for (OutboundService port : ports) {
      ips.addAll(port.service().clusterIps());
    }
    // the ClusterIPs of services asking for trafficDistribution have their own chains, and Envoy refuses a
    // listener where two chains match the same destination
    ips.removeAll(askingIps(options, ports, TrafficDistribution.PREFER_SAME_ZONE));
    ips.removeAll(askingIps(options, ports, TrafficDistribution.PREFER_SAME_NODE));
    return hosts(ips);
  }

  /**
   * Shared binding: what the pod listener's trafficDistribution chain for {@code distribution} matches, the
   * ClusterIPs of the services asking for it (an IP of a PreferSameNode service only in that chain); empty in
   * per-pod binding, which has no variants.
   */
  public static ImmutableList<CidrRange> askingPrefixes(
      TranslatorOptions options, Collection<OutboundService> ports, TrafficDistribution distribution) {
    return hosts(askingIps(options, ports, distribution));
  }

  private static TreeSet<String> askingIps(
      TranslatorOptions options, Collection<OutboundService> ports, TrafficDistribution distribution) {
    TreeSet<String> ips = new TreeSet<>();
    if (options.upstreamBinding() != UpstreamBinding.SHARED || !distribution.asks()) {
      return ips;
    }
    TreeSet<String> sameNode = new TreeSet<>();
    for (OutboundService port : ports) {
      TrafficDistribution asked = port.service().trafficDistribution();
      if (asked == distribution) {
        ips.addAll(port.service().clusterIps());
      } else if (asked == TrafficDistribution.PREFER_SAME_NODE) {
        sameNode.addAll(port.service().clusterIps());
      }
    }
    ips.removeAll(sameNode); // only ever reachable by a broken API (two services, one IP): one chain per IP
    return ips;
  }

  private static ImmutableList<CidrRange> hosts(TreeSet<String> ips) {
    return ips.stream().map(ServiceCidrs::host).collect(ImmutableList.toImmutableList());
  }

  /** A range matching exactly one address. */
  static CidrRange host(String ip) {
    return range(ip, EnvoyBuilders.isIpv6(ip) ? 128 : 32);
  }

  private static CidrRange range(String address, int prefix) {
    return CidrRange.newBuilder().setAddressPrefix(address).setPrefixLen(EnvoyBuilders.uint32(prefix)).build();
  }
}
