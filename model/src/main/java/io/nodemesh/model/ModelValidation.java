package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.net.InetAddresses;
import io.nodemesh.log.SafeText;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Checks objects entering the model against what Kubernetes itself allows. An object that cannot be used
 * at all (bad name) is rejected; a bad part of an object (an invalid IP, port 0, a duplicate port) is
 * dropped. Either way a {@link Problem} records why, and nothing throws.
 */
public final class ModelValidation {

  /** DNS-1123 label (namespaces, service port names): at most 63 characters. */
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  /** DNS-1035 label (service names): must start with a letter. */
  private static final Pattern DNS_1035_LABEL = Pattern.compile("[a-z]([-a-z0-9]{0,61}[a-z0-9])?");
  /** DNS-1123 subdomain (pod, node, slice names): at most 253 characters. */
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /**
   * Kubernetes label value (node zone labels): at most 63 characters. Zones end up in resource names and in
   * the pod listener's substitution format string, so this grammar (no '%', no '/') is what keeps them inert.
   */
  private static final Pattern LABEL_VALUE = Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");

  private static final int MAX_SUBDOMAIN_LENGTH = 253;
  /** Kubernetes sets no limit; beyond this a service is surely broken and would bloat every listener. */
  public static final int MAX_PORTS_PER_SERVICE = 1024;

  private ModelValidation() {}

  static String namespaceProblem(String namespace) {
    return DNS_LABEL.matcher(namespace).matches() ? null : "namespace is not a DNS-1123 label (max 63 chars)";
  }

  static String subdomainProblem(String what, String name) {
    if (name.length() > MAX_SUBDOMAIN_LENGTH || !DNS_SUBDOMAIN.matcher(name).matches()) {
      return what + " is not a DNS-1123 subdomain (max " + MAX_SUBDOMAIN_LENGTH + " chars)";
    }
    return null;
  }

  /** Null when {@code zone} is a Kubernetes label value, else why it is not. */
  public static String zoneProblem(String zone) {
    return LABEL_VALUE.matcher(zone).matches() ? null
        : "zone label " + truncate(zone) + " is not a Kubernetes label value (max 63 chars); the node has no zone";
  }

  static String serviceNameProblem(String name) {
    return DNS_1035_LABEL.matcher(name).matches() ? null : "service name is not a DNS-1035 label (max 63 chars)";
  }

  /** The IP literals of {@code ips} in order, without invalid ones or duplicates (each reported). */
  static ImmutableList<String> validIps(List<String> ips, String what, Consumer<String> problems) {
    ImmutableList.Builder<String> valid = ImmutableList.builder();
    Set<String> seen = new HashSet<>();
    for (String ip : ips) {
      if (ip == null || !InetAddresses.isInetAddress(ip)) {
        problems.accept(what + " " + truncate(ip) + " is not an IP address");
      } else {
        // canonical text form, so "::0001" and "::1" compare equal
        String canonical = InetAddresses.toAddrString(InetAddresses.forString(ip));
        if (seen.add(canonical)) {
          valid.add(canonical);
        }
      }
    }
    return valid.build();
  }

  static boolean validPort(int port) {
    return port >= 1 && port <= 65535;
  }

  /** The usable ports of a service: in range, unique by (port, protocol) and by name, bounded in count. */
  static ImmutableList<ServicePort> validServicePorts(List<ServicePort> ports, Consumer<String> problems) {
    ImmutableList.Builder<ServicePort> valid = ImmutableList.builder();
    Set<String> seenPorts = new HashSet<>();
    Set<String> seenNames = new HashSet<>();
    int kept = 0;
    for (ServicePort port : ports) {
      String label = "port " + truncate(port.name()) + ":" + port.port();
      if (!validPort(port.port())) {
        problems.accept(label + " is out of range 1-65535");
      } else if (!port.name().isEmpty() && !DNS_LABEL.matcher(port.name()).matches()) {
        problems.accept(label + " name is not a DNS-1123 label");
      } else if (!seenPorts.add(port.port() + "/" + port.protocol())) {
        problems.accept(label + " duplicates port " + port.port() + "/" + port.protocol());
      } else if (!seenNames.add(port.name())) {
        problems.accept(label + " duplicates port name '" + port.name() + "'");
      } else if (kept >= MAX_PORTS_PER_SERVICE) {
        problems.accept(label + " dropped: more than " + MAX_PORTS_PER_SERVICE + " ports");
      } else {
        valid.add(port);
        kept++;
      }
    }
    return valid.build();
  }

  /** Keeps hostile values from flooding problem reports. */
  static String truncate(String value) {
    return SafeText.printable(value, 80);
  }
}
