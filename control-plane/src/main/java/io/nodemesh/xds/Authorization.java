package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import io.grpc.Status;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of authorizing a client: which node's view it may receive (if any), how that was established,
 * or why it is refused. Immutable.
 *
 * @param verdict whether the client gets a node's view, only node-independent resources, or nothing
 * @param viewNode the node whose LDS/CDS view the client receives ("" unless {@link Verdict#NODE})
 * @param reason how the identity was established, or why it was refused; safe to show to the client
 * @param label a short, fixed metric label for the reason (bounded set)
 * @param code the gRPC status a refused client gets
 * @param principal who the client was authorized as ({@code node:<name>}, {@code sa:<user>/<pod>},
 *     {@code peer:<ip>}): the key of every piece of per-client state, never a claimed {@code node.id}
 * @param localPrefixes where the authorized identity places the client (its node, its zone), as listener name
 *     prefixes: a client asking for listener {@code X} is served the first {@code prefix + X} the store holds,
 *     under the name {@code X} (trafficDistribution variants for proxyless clients); empty for everyone else
 */
public record Authorization(
    Verdict verdict, String viewNode, String reason, String label, Status.Code code, String principal,
    ImmutableList<String> localPrefixes) {

  /** What a client may receive. */
  public enum Verdict {
    /** The view of {@link #viewNode()} plus node-independent resources. */
    NODE,
    /** Node-independent resources only (proxyless clients, clients that claim no verifiable node). */
    SHARED_ONLY,
    /** Nothing: the stream ends with {@link #code()}. */
    DENIED
  }

  public Authorization {
    Objects.requireNonNull(verdict, "verdict");
    viewNode = viewNode == null ? "" : viewNode;
    reason = reason == null ? "" : reason;
    label = label == null ? "" : label;
    code = code == null ? Status.Code.OK : code;
    principal = principal == null ? "" : principal;
    localPrefixes = localPrefixes == null ? ImmutableList.of() : localPrefixes;
  }

  private Authorization(Verdict verdict, String viewNode, String reason, String label, Status.Code code,
      String principal) {
    this(verdict, viewNode, reason, label, code, principal, ImmutableList.of());
  }

  /**
   * The same decision, serving the client the listeners of its locality ({@link #localPrefixes()}); {@code note}
   * (how the locality was found) is added to the reason.
   */
  public Authorization withLocality(List<String> prefixes, String note) {
    return new Authorization(verdict, viewNode, reason + "; " + note, label, code, principal,
        ImmutableList.copyOf(prefixes));
  }

  /** The client may receive {@code node}'s view; {@code how} says why (e.g. which address matched). */
  public static Authorization node(String node, String label, String how) {
    return new Authorization(Verdict.NODE, node, how, label, Status.Code.OK, "node:" + node);
  }

  /**
   * The client gets node-independent resources only; {@code principal} is what it proved (a token's subject)
   * or, for an anonymous client the server allows, its address.
   */
  public static Authorization sharedOnly(String label, String why, String principal) {
    return new Authorization(Verdict.SHARED_ONLY, "", why, label, Status.Code.OK, principal);
  }

  /** The client is refused with PERMISSION_DENIED. */
  public static Authorization denied(String label, String why) {
    return new Authorization(Verdict.DENIED, "", why, label, Status.Code.PERMISSION_DENIED, "");
  }

  /** The client cannot be checked right now (e.g. the TokenReview API is unreachable): UNAVAILABLE, retry. */
  public static Authorization unavailable(String label, String why) {
    return new Authorization(Verdict.DENIED, "", why, label, Status.Code.UNAVAILABLE, "");
  }

  public boolean denied() {
    return verdict == Verdict.DENIED;
  }
}
