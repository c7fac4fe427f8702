package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.nodemesh.log.SafeText;

/**
 * Who is on the other end of a stream: {@code node.id} (the Envoy pod, or any id a proxyless client
 * picks), the Kubernetes node whose view it receives ({@code node.metadata.node_name}, else the id) and, once
 * authorized, the principal it was authorized as and its stream.
 *
 * @param nodeId the client's {@code node.id} (claimed: only meaningful under {@link #principal})
 * @param nodeName the Kubernetes node whose LDS/CDS view the client receives
 * @param nodeNameFromMetadata whether {@code node_name} metadata was present
 * @param principal who the client was authorized as (see {@link Authorization#principal()}); "" before
 * @param streamId the stream this identity was authorized on (0 before)
 * @param localPrefixes listener name prefixes of the client's locality (see {@link Authorization#localPrefixes()})
 */
public record NodeIdentity(String nodeId, String nodeName, boolean nodeNameFromMetadata, String principal,
    long streamId, ImmutableList<String> localPrefixes) {

  /** Metadata key carrying the Kubernetes node name. */
  public static final String NODE_NAME_KEY = "node_name";

  public NodeIdentity {
    localPrefixes = localPrefixes == null ? ImmutableList.of() : localPrefixes;
  }

  /** A claimed identity, not yet authorized. */
  public NodeIdentity(String nodeId, String nodeName, boolean nodeNameFromMetadata) {
    this(nodeId, nodeName, nodeNameFromMetadata, "", 0);
  }

  /** An authorized identity whose client is served listeners by the names it asks for. */
  public NodeIdentity(String nodeId, String nodeName, boolean nodeNameFromMetadata, String principal, long streamId) {
    this(nodeId, nodeName, nodeNameFromMetadata, principal, streamId, ImmutableList.of());
  }

  /** The prefixes under which this client is served {@code type}: its locality's listeners, nothing else. */
  ImmutableList<String> localPrefixes(ResourceType type) {
    return type == ResourceType.LISTENER ? localPrefixes : ImmutableList.of();
  }

  /** Reads identity from the node a client sends on its first request. */
  public static NodeIdentity of(Node node) {
    Value value = node.getMetadata().getFieldsMap().get(NODE_NAME_KEY);
    if (value != null && value.hasStringValue() && !value.getStringValue().isEmpty()) {
      return new NodeIdentity(node.getId(), value.getStringValue(), true);
    }
    return new NodeIdentity(node.getId(), node.getId(), false);
  }

  /**
   * Why a claimed identity is refused, or null when it is acceptable: {@code node.id} and {@code node_name}
   * are at most {@link XdsTunables#MAX_NODE_ID_CHARS} characters without control characters, so they are safe
   * to log, to show and to keep.
   */
  static String invalidity(NodeIdentity claimed) {
    String id = problem("node.id", claimed.nodeId());
    return id != null ? id : claimed.nodeNameFromMetadata() ? problem("node.metadata.node_name", claimed.nodeName()) : null;
  }

  private static String problem(String field, String value) {
    if (value.length() > XdsTunables.MAX_NODE_ID_CHARS) {
      return field + " has " + value.length() + " characters, more than the limit of " + XdsTunables.MAX_NODE_ID_CHARS;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (SafeText.isControl(c)) {
        return field + " contains a control character (at index " + i + ")";
      }
    }
    return null;
  }
}
