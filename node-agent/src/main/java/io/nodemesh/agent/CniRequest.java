package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One request of the CNI plugin, read from a spool file of {@code key=value} lines. The plugin validated every
 * field already; they are validated again here because the agent acts on them as root.
 *
 * @param id the request's file name without {@code .req}; the answer goes to {@code responses/<id>}
 * @param ips the pod's addresses from the main plugin's result (the API publishes them only after ADD)
 */
public record CniRequest(
    String id,
    Command command,
    String containerId,
    String podUid,
    String podNamespace,
    String podName,
    String netns,
    Path pin,
    ImmutableList<String> ips) {

  /** The CNI commands the plugin hands to the agent. */
  public enum Command { ADD, DEL, CHECK }

  static final Pattern ID = Pattern.compile("(add|del|check)-[0-9a-f-]{36}-[0-9]{1,10}");
  static final Pattern UID =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
  private static final Pattern NAMESPACE = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?");
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9_][A-Za-z0-9._-]*)+");
  private static final Pattern IP_PREFIX = Pattern.compile("[0-9a-fA-F.:]{2,45}(/[0-9]{1,3})?");

  /**
   * Parses a request file's text; the pin must be {@code pinDir/<podUid>}.
   *
   * @throws IllegalArgumentException naming the first field that is wrong
   */
  public static CniRequest parse(String id, String text, Path pinDir) {
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException("request id '" + OutboundExclusions.printable(id) + "' is malformed");
    }
    Map<String, String> fields = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int equals = line.indexOf('=');
      if (equals > 0) {
        fields.putIfAbsent(line.substring(0, equals), line.substring(equals + 1));
      }
    }
    if (!"1".equals(fields.get("version"))) {
      throw new IllegalArgumentException("unsupported request version " + OutboundExclusions.printable(
          String.valueOf(fields.get("version"))));
    }
    Command command;
    try {
      command = Command.valueOf(require(fields, "command", Pattern.compile("ADD|DEL|CHECK")));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown command");
    }
    String uid = require(fields, "podUid", UID);
    String pin = require(fields, "pin", PATH);
    if (!Path.of(pin).equals(pinDir.resolve(uid))) {
      throw new IllegalArgumentException("pin " + pin + " is not " + pinDir.resolve(uid));
    }
    String netns = fields.getOrDefault("netns", "");
    if (!netns.isEmpty() && (!PATH.matcher(netns).matches() || netns.length() > 256)) {
      throw new IllegalArgumentException("netns is not a plain absolute path");
    }
    List<String> ips = new ArrayList<>();
    for (String ip : fields.getOrDefault("ips", "").split(",")) {
      if (!ip.isEmpty()) {
        if (!IP_PREFIX.matcher(ip).matches()) {
          throw new IllegalArgumentException("ips holds '" + OutboundExclusions.printable(ip) + "'");
        }
        int slash = ip.indexOf('/');
        ips.add(slash < 0 ? ip : ip.substring(0, slash));
      }
    }
    return new CniRequest(id, command, require(fields, "containerId", CONTAINER_ID), uid,
        require(fields, "podNamespace", NAMESPACE), require(fields, "podName", NAME), netns, Path.of(pin),
        ImmutableList.copyOf(ips));
  }

  private static String require(Map<String, String> fields, String key, Pattern pattern) {
    String value = fields.get(key);
    if (value == null || !pattern.matcher(value).matches()) {
      throw new IllegalArgumentException(key + " is missing or malformed");
    }
    return value;
  }
}
