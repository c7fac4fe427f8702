package io.nodemesh.agent;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.Iterables;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nat rules inside a pod's network namespace that send its outbound TCP to the capture port, as
 * {@code iptables-restore --noflush} input, and the check of what {@code iptables-save -t nat} shows.
 *
 * <p>All rules live in one chain of ours, {@value #CHAIN}, reached by a single jump from {@code OUTPUT}; other
 * rules in the namespace are never touched. The chain is rewritten as a whole in one restore transaction (a chain
 * declaration under {@code --noflush} flushes just that chain), so the pod never sees half a rule set. Order:
 * <ol>
 *   <li>{@code -o lo -j RETURN}: loopback (127/8 and the pod talking to its own IPs) stays local;</li>
 *   <li>{@code -m mark --mark <so-mark> -j RETURN}: Envoy's own upstream connections (SO_MARK) go out as they are;</li>
 *   <li>excluded destination ports and IPv4 CIDRs from the pod's annotations;</li>
 *   <li>{@code -p tcp -j REDIRECT --to-ports <capture>}: everything else lands on Envoy's listener in the pod.</li>
 * </ol>
 * Every rule carries a comment {@code nodemesh:<signature>:<index>}, the signature being a hash of the whole
 * intended rule set. The check compares those comments, not rule text, which {@code iptables-save} prints
 * differently across versions and backends (legacy and nft).
 */
public final class RedirectRules {

  public static final String CHAIN = "NODEMESH_OUTPUT";
  /** iptables' multiport match takes at most 15 ports per rule. */
  static final int PORTS_PER_RULE = 15;

  private static final Pattern COMMENT = Pattern.compile("--comment \"?(nodemesh:[0-9a-f]+:[0-9]+)\"?");
  private static final String JUMP = "-A OUTPUT -p tcp -j " + CHAIN;

  private RedirectRules() {}

  /** What a meshed pod's namespace should hold. */
  public record Spec(int capturePort, int soMark, OutboundExclusions exclusions) {

    /** The rule bodies in order, without chain and comment. */
    public ImmutableList<String> rules() {
      ImmutableList.Builder<String> rules = ImmutableList.builder();
      rules.add("-o lo -j RETURN");
      rules.add("-m mark --mark " + Integer.toUnsignedString(soMark) + " -j RETURN");
      for (List<Integer> chunk : Iterables.partition(exclusions.ports(), PORTS_PER_RULE)) {
        rules.add("-p tcp -m multiport --dports " + String.join(",", chunk.stream().map(String::valueOf).toList())
            + " -j RETURN");
      }
      for (String cidr : exclusions.cidrs()) {
        rules.add("-d " + cidr + " -j RETURN");
      }
      rules.add("-p tcp -j REDIRECT --to-ports " + capturePort);
      return rules.build();
    }

    /** A short hash of the rule set: equal signatures mean equal rules. */
    public String signature() {
      return Hashing.sha256().hashString(String.join("\n", rules()), StandardCharsets.UTF_8).toString().substring(0, 12);
    }
  }

  /** What {@code iptables-save -t nat} shows of ours: whether the chain exists, the jumps to it, its rules. */
  public record NatState(boolean chainExists, ImmutableList<String> jumps, ImmutableList<String> chainRules) {

    /** Nothing of ours is there. */
    public boolean absent() {
      return !chainExists && jumps.isEmpty() && chainRules.isEmpty();
    }

    /** Reads the nat table as printed by {@code iptables-save} (the {@code -t nat} part or the whole output). */
    public static NatState parse(String save) {
      boolean inNat = false;
      boolean chainExists = false;
      List<String> jumps = new ArrayList<>();
      List<String> rules = new ArrayList<>();
      for (String raw : save.split("\n")) {
        String line = raw.strip();
        if (line.startsWith("*")) {
          inNat = line.equals("*nat");
        } else if (!inNat || line.startsWith("#")) {
          continue;
        } else if (line.startsWith(":" + CHAIN + " ")) {
          chainExists = true;
        } else if (line.startsWith("-A OUTPUT ") && (line.endsWith("-j " + CHAIN) || line.contains("-j " + CHAIN + " "))) {
          jumps.add(line);
        } else if (line.startsWith("-A " + CHAIN + " ")) {
          rules.add(line);
        }
      }
      return new NatState(chainExists, ImmutableList.copyOf(jumps), ImmutableList.copyOf(rules));
    }
  }

  /** The restore input that makes the namespace hold exactly {@code spec}, given what it holds now. */
  public static String applyPayload(Spec spec, NatState current) {
    StringBuilder payload = new StringBuilder("*nat\n:" + CHAIN + " - [0:0]\n");
    ImmutableList<String> rules = spec.rules();
    String signature = spec.signature();
    for (int i = 0; i < rules.size(); i++) {
      String rule = rules.get(i);
      int target = rule.lastIndexOf(" -j ");
      payload.append("-A ").append(CHAIN).append(' ').append(rule, 0, target)
          .append(" -m comment --comment nodemesh:").append(signature).append(':').append(i)
          .append(rule.substring(target)).append('\n');
    }
    if (current.jumps().isEmpty()) {
      // first in OUTPUT, so that no other rule decides about the pod's connections before the redirect does
      payload.append("-I OUTPUT 1 -p tcp -j ").append(CHAIN).append('\n');
    }
    for (String extra : current.jumps().subList(Math.min(1, current.jumps().size()), current.jumps().size())) {
      payload.append("-D").append(extra.substring(2)).append('\n');
    }
    return payload.append("COMMIT\n").toString();
  }

  /** The restore input that removes everything of ours; empty when nothing is there. */
  public static String removePayload(NatState current) {
    if (current.absent()) {
      return "";
    }
    StringBuilder payload = new StringBuilder("*nat\n");
    for (String jump : current.jumps()) {
      payload.append("-D").append(jump.substring(2)).append('\n');
    }
    if (current.chainExists()) {
      payload.append("-F ").append(CHAIN).append('\n').append("-X ").append(CHAIN).append('\n');
    }
    return payload.append("COMMIT\n").toString();
  }

  /** How the namespace differs from {@code spec}, or empty when it holds exactly that. */
  public static Optional<String> drift(Spec spec, NatState current) {
    if (!current.chainExists()) {
      return Optional.of("chain " + CHAIN + " is missing");
    }
    if (current.jumps().size() != 1) {
      return Optional.of(current.jumps().isEmpty()
          ? "no jump from OUTPUT to " + CHAIN
          : current.jumps().size() + " jumps from OUTPUT to " + CHAIN);
    }
    if (!current.jumps().get(0).equals(JUMP)) {
      return Optional.of("the jump from OUTPUT is not '" + JUMP + "'");
    }
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < spec.rules().size(); i++) {
      expected.add("nodemesh:" + spec.signature() + ":" + i);
    }
    List<String> found = new ArrayList<>();
    for (String rule : current.chainRules()) {
      Matcher comment = COMMENT.matcher(rule);
      found.add(comment.find() ? comment.group(1) : "(foreign rule)");
    }
    if (!found.equals(expected)) {
      return Optional.of(CHAIN + " holds " + found.size() + " rule(s) " + found + ", expected " + expected.size()
          + " with signature " + spec.signature());
    }
    return Optional.empty();
  }
}
