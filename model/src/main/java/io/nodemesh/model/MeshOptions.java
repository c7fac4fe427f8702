package io.nodemesh.model;

import java.util.Objects;

/** The knobs that decide which pods are meshed and where their network namespaces are. */
public record MeshOptions(
    boolean meshAllNamespaces, NetnsMode netnsMode, String netnsTemplate, String netnsAllowedPrefix) {

  public static final String DEFAULT_NETNS_TEMPLATE = "/var/run/nodemesh/netns/{podUid}";
  public static final String DEFAULT_NETNS_ALLOWED_PREFIX = "/var/run/netns/";
  public static final MeshOptions DEFAULTS =
      new MeshOptions(false, NetnsMode.TEMPLATE, DEFAULT_NETNS_TEMPLATE, DEFAULT_NETNS_ALLOWED_PREFIX);

  public MeshOptions {
    netnsMode = netnsMode == null ? NetnsMode.TEMPLATE : netnsMode;
    netnsTemplate = netnsTemplate == null ? DEFAULT_NETNS_TEMPLATE : netnsTemplate;
    netnsAllowedPrefix = netnsAllowedPrefix == null ? DEFAULT_NETNS_ALLOWED_PREFIX : netnsAllowedPrefix;
    Objects.requireNonNull(netnsMode);
    if (!netnsTemplate.contains(NetnsPaths.POD_UID_PLACEHOLDER)) {
      throw new IllegalArgumentException(
          "netns template must contain " + NetnsPaths.POD_UID_PLACEHOLDER + ": " + netnsTemplate);
    }
    if (!netnsAllowedPrefix.startsWith("/") || !netnsAllowedPrefix.endsWith("/")) {
      throw new IllegalArgumentException(
          "netns allowed prefix must be an absolute directory ending in '/': " + netnsAllowedPrefix);
    }
  }
}
