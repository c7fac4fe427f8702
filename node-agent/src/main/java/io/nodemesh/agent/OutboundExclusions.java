package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedSet;
import com.google.common.net.InetAddresses;
import io.nodemesh.log.SafeText;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a pod's annotations exclude from the outbound redirect: destination ports
 * ({@value #PORTS_ANNOTATION}, e.g. {@code "5432, 6379"}) and IPv4 CIDRs ({@value #CIDRS_ANNOTATION}, e.g.
 * {@code "10.0.0.0/8,192.168.1.7"}).
 *
 * <p>The values end up as iptables arguments, so they are parsed strictly into numbers and re-printed, never
 * passed through. An annotation with any invalid entry is rejected as a whole, with a reason, and the pod is
 * redirected without that exclusion: excluding is a way around the mesh, so when in doubt, capture. IPv6 entries
 * are valid but have no effect, since only IPv4 is redirected (the capture listener is {@code 0.0.0.0}).
 */
public record OutboundExclusions(
    ImmutableSortedSet<Integer> ports, ImmutableList<String> cidrs, ImmutableList<String> problems) {

  public static final String PORTS_ANNOTATION = "nodemesh.io/exclude-outbound-ports";
  public static final String CIDRS_ANNOTATION = "nodemesh.io/exclude-outbound-cidrs";
  public static final OutboundExclusions NONE =
      new OutboundExclusions(ImmutableSortedSet.of(), ImmutableList.of(), ImmutableList.of());

  /** Bounds: far above any sane use, low enough that hostile input costs nothing. */
  static final int MAX_LENGTH = 1024;
  static final int MAX_ENTRIES = 64;

  private static final Pattern PORT = Pattern.compile("[1-9][0-9]{0,4}");
  private static final Pattern IPV4_CIDR =
      Pattern.compile("(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})(?:/(0|[1-9][0-9]?))?");
  private static final Pattern IPV6_CIDR = Pattern.compile("([0-9A-Fa-f:.]{2,45})(?:/(0|[1-9][0-9]{0,2}))?");

  /** Parses both annotations; invalid ones are left out and explained in {@link #problems()}. */
  public static OutboundExclusions fromAnnotations(Map<String, String> annotations) {
    List<String> problems = new ArrayList<>();
    ImmutableSortedSet<Integer> ports = ImmutableSortedSet.of();
    ImmutableList<String> cidrs = ImmutableList.of();
    String portsText = annotations.get(PORTS_ANNOTATION);
    if (portsText != null) {
      try {
        ports = parsePorts(portsText);
      } catch (IllegalArgumentException e) {
        problems.add(PORTS_ANNOTATION + " rejected: " + e.getMessage());
      }
    }
    String cidrsText = annotations.get(CIDRS_ANNOTATION);
    if (cidrsText != null) {
      try {
        cidrs = parseCidrs(cidrsText);
      } catch (IllegalArgumentException e) {
        problems.add(CIDRS_ANNOTATION + " rejected: " + e.getMessage());
      }
    }
    return new OutboundExclusions(ports, cidrs, ImmutableList.copyOf(problems));
  }

  /** A comma list of ports 1-65535 (spaces around entries allowed, empty entries not). */
  static ImmutableSortedSet<Integer> parsePorts(String text) {
    TreeSet<Integer> ports = new TreeSet<>();
    for (String entry : entries(text)) {
      if (!PORT.matcher(entry).matches() || Integer.parseInt(entry) > 65535) {
        throw new IllegalArgumentException("'" + printable(entry) + "' is not a port number 1-65535");
      }
      ports.add(Integer.parseInt(entry));
    }
    return ImmutableSortedSet.copyOf(ports);
  }

  /**
   * A comma list of IPv4 addresses or CIDRs in canonical form (no leading zeros, no host bits set), returned as
   * {@code a.b.c.d/n}; IPv6 entries are checked and dropped.
   */
  static ImmutableList<String> parseCidrs(String text) {
    TreeSet<String> cidrs = new TreeSet<>();
    for (String entry : entries(text)) {
      Matcher v4 = IPV4_CIDR.matcher(entry);
      if (v4.matches()) {
        long address = 0;
        for (int i = 1; i <= 4; i++) {
          int octet = Integer.parseInt(v4.group(i));
          if (octet > 255) {
            throw new IllegalArgumentException("'" + printable(entry) + "' is not an IPv4 address");
          }
          address = (address << 8) | octet;
        }
        int prefix = v4.group(5) == null ? 32 : Integer.parseInt(v4.group(5));
        if (prefix > 32) {
          throw new IllegalArgumentException("'" + printable(entry) + "' has a prefix length above 32");
        }
        long mask = prefix == 0 ? 0 : (0xFFFFFFFFL << (32 - prefix)) & 0xFFFFFFFFL;
        if ((address & ~mask & 0xFFFFFFFFL) != 0) {
          throw new IllegalArgumentException("'" + printable(entry) + "' has host bits set; did you mean "
              + dotted(address & mask) + "/" + prefix + "?");
        }
        cidrs.add(dotted(address) + "/" + prefix);
        continue;
      }
      Matcher v6 = IPV6_CIDR.matcher(entry);
      if (v6.matches() && entry.contains(":") && InetAddresses.isInetAddress(v6.group(1))
          && !(InetAddresses.forString(v6.group(1)) instanceof Inet4Address)
          && (v6.group(2) == null || Integer.parseInt(v6.group(2)) <= 128)) {
        continue; // valid, and moot: IPv6 is not redirected
      }
      throw new IllegalArgumentException("'" + printable(entry) + "' is not an IPv4 or IPv6 address or CIDR");
    }
    return ImmutableList.copyOf(cidrs);
  }

  private static List<String> entries(String text) {
    if (text.length() > MAX_LENGTH) {
      throw new IllegalArgumentException("longer than " + MAX_LENGTH + " characters");
    }
    List<String> entries = new ArrayList<>();
    for (String raw : text.split(",", -1)) {
      String entry = raw.strip();
      if (entry.isEmpty()) {
        if (text.isBlank()) {
          return entries;
        }
        throw new IllegalArgumentException("empty entry in the comma list");
      }
      entries.add(entry);
    }
    if (entries.size() > MAX_ENTRIES) {
      throw new IllegalArgumentException("more than " + MAX_ENTRIES + " entries");
    }
    return entries;
  }

  private static String dotted(long address) {
    return ((address >> 24) & 255) + "." + ((address >> 16) & 255) + "." + ((address >> 8) & 255) + "." + (address & 255);
  }

  /** Keeps hostile values out of logs and answers: no control characters, quotes or backslashes, bounded. */
  static String printable(String value) {
    return SafeText.printable(value, 40);
  }
}
