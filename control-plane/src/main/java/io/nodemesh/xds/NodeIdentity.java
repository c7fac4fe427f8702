package io.nodemesh.xds;

import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;

/**
 * Who is on the other end of a stream: {@code node.id} (the Envoy pod, or any id a proxyless client
 * picks) and the Kubernetes node whose view it receives ({@code node.metadata.node_name}, else the id).
 *
 * @param nodeId the client's {@code node.id}
 * @param nodeName the Kubernetes node whose LDS/CDS view the client receives
 * @param nodeNameFromMetadata whether {@code node_name} metadata was present
 */
public record NodeIdentity(String nodeId, String nodeName, boolean nodeNameFromMetadata) {

  /** Metadata key carrying the Kubernetes node name. */
  public static final String NODE_NAME_KEY = "node_name";

  /** Reads identity from the node a client sends on its first request. */
  public static NodeIdentity of(Node node) {
    Value value = node.getMetadata().getFieldsMap().get(NODE_NAME_KEY);
    if (value != null && value.hasStringValue() && !value.getStringValue().isEmpty()) {
      return new NodeIdentity(node.getId(), value.getStringValue(), true);
    }
    return new NodeIdentity(node.getId(), node.getId(), false);
  }
}
