package io.nodemesh.xds;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import java.util.Optional;

/**
 * The four xDS resource types the server serves. Declaration order is the make-before-break order for
 * additions (CDS, EDS, LDS, RDS): a listener only arrives once the clusters it routes to exist.
 */
public enum ResourceType {
  CLUSTER("type.googleapis.com/envoy.config.cluster.v3.Cluster", "CDS", Cluster.class, true),
  ENDPOINT(
      "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
      "EDS",
      ClusterLoadAssignment.class,
      false),
  LISTENER("type.googleapis.com/envoy.config.listener.v3.Listener", "LDS", Listener.class, true),
  ROUTE(
      "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
      "RDS",
      RouteConfiguration.class,
      false);

  private static final ResourceType[] VALUES = values();

  private final String typeUrl;
  private final String shortName;
  private final Class<? extends Message> messageClass;
  private final boolean fullState;

  ResourceType(String typeUrl, String shortName, Class<? extends Message> messageClass, boolean fullState) {
    this.typeUrl = typeUrl;
    this.shortName = shortName;
    this.messageClass = messageClass;
    this.fullState = fullState;
  }

  /** The v3 type URL, as used in requests, responses and {@code Any}. */
  public String typeUrl() {
    return typeUrl;
  }

  /** LDS, CDS, EDS or RDS: for logs and metrics. */
  public String shortName() {
    return shortName;
  }

  /** The generated Envoy API class of this type. */
  public Class<? extends Message> messageClass() {
    return messageClass;
  }

  /**
   * Whether a SotW response must carry every resource the client holds (LDS, CDS) rather than just the
   * changed ones, and whether a wildcard subscription means "this node's view" (the per-node types).
   */
  public boolean fullState() {
    return fullState;
  }

  /** Every type, in make-before-break order; callers must not modify the array. */
  static ResourceType[] all() {
    return VALUES;
  }

  /** The type of a v3 type URL, or empty for anything else (v2, other services, garbage). */
  public static Optional<ResourceType> fromTypeUrl(String typeUrl) {
    for (ResourceType type : VALUES) {
      if (type.typeUrl.equals(typeUrl)) {
        return Optional.of(type);
      }
    }
    return Optional.empty();
  }

  /** The type of an Envoy resource message. */
  public static ResourceType of(Message message) {
    for (ResourceType type : VALUES) {
      if (type.messageClass.isInstance(message)) {
        return type;
      }
    }
    throw new IllegalArgumentException(
        "not an xDS resource type: " + message.getDescriptorForType().getFullName());
  }

  /** {@code message} (of this type) under another name. */
  Message withName(Message message, String name) {
    nameOf(message); // refuses a message of another type
    return switch (this) {
      case CLUSTER -> ((Cluster) message).toBuilder().setName(name).build();
      case ENDPOINT -> ((ClusterLoadAssignment) message).toBuilder().setClusterName(name).build();
      case LISTENER -> ((Listener) message).toBuilder().setName(name).build();
      case ROUTE -> ((RouteConfiguration) message).toBuilder().setName(name).build();
    };
  }

  /** The resource name carried inside the message (the CLA's is its cluster_name). */
  public String nameOf(Message message) {
    if (!messageClass.isInstance(message)) {
      throw new IllegalArgumentException(
          shortName + " expects " + messageClass.getSimpleName() + ", got "
              + message.getDescriptorForType().getFullName());
    }
    return switch (this) {
      case CLUSTER -> ((Cluster) message).getName();
      case ENDPOINT -> ((ClusterLoadAssignment) message).getClusterName();
      case LISTENER -> ((Listener) message).getName();
      case ROUTE -> ((RouteConfiguration) message).getName();
    };
  }
}
