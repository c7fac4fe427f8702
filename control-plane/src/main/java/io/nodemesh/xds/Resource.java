package io.nodemesh.xds;

import com.google.common.base.MoreObjects;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;

/**
 * One xDS resource as the store holds it: the message, its content-hash version, and the wire forms built
 * once and shared by every stream that sends it (the SotW {@code Any} and the delta {@code Resource}).
 *
 * <p>Immutable. Two instances with the same type, name and version carry the same bytes. Only the bytes are
 * kept: the message object graph of a pod listener is several times its serialised size, and the store holds
 * one per pod (at 30,000 pods that was most of the heap); {@link #message()} parses it back when asked.
 */
public final class Resource {

  private final ResourceType type;
  private final String name;
  private final String version;
  private final Any any;
  private final io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource;
  private final long pairHash;
  private final long generation;

  private Resource(
      ResourceType type,
      String name,
      String version,
      Any any,
      io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource,
      long pairHash,
      long generation) {
    this.type = type;
    this.name = name;
    this.version = version;
    this.any = any;
    this.deltaResource = deltaResource;
    this.pairHash = pairHash;
    this.generation = generation;
  }

  /**
   * Serialises and hashes a resource; its name is the one inside the message. Costly (serialisation and
   * hashing), so callers prepare resources before handing a batch to the store's single writer.
   */
  public static Resource of(Message message) {
    ResourceType type = ResourceType.of(message);
    String name = type.nameOf(message);
    if (name.isEmpty()) {
      throw new IllegalArgumentException(type.shortName() + " resource without a name");
    }
    ByteString bytes = Versions.deterministicBytes(message);
    String version = Versions.ofBytes(bytes);
    Any any = Any.newBuilder().setTypeUrl(type.typeUrl()).setValue(bytes).build();
    io.envoyproxy.envoy.service.discovery.v3.Resource delta =
        io.envoyproxy.envoy.service.discovery.v3.Resource.newBuilder()
            .setName(name)
            .setVersion(version)
            .setResource(any)
            .build();
    // memoise the size now, while one thread owns the object, so senders only read it
    any.getSerializedSize();
    delta.getSerializedSize();
    return new Resource(type, name, version, any, delta, Versions.pairHash(name, version), 0);
  }

  /** The same resource stamped with the store generation that introduced this version. */
  Resource withGeneration(long newGeneration) {
    return new Resource(type, name, version, any, deltaResource, pairHash, newGeneration);
  }

  /** The resource's type. */
  public ResourceType type() {
    return type;
  }

  /** The resource's name (unique within its type). */
  public String name() {
    return name;
  }

  /** The content hash of the resource, 32 hex digits. */
  public String version() {
    return version;
  }

  /** The resource message, parsed from the stored bytes on each call (for debug endpoints and tests). */
  public Message message() {
    try {
      return com.google.protobuf.Internal.getDefaultInstance(type.messageClass()).getParserForType()
          .parseFrom(any.getValue());
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("stored bytes of " + type.shortName() + " " + name + " do not parse", e);
    }
  }

  /** The packed resource as sent in SotW responses. */
  public Any any() {
    return any;
  }

  /** The store generation at which this version first appeared (0 before the store accepted it). */
  public long generation() {
    return generation;
  }

  /** The resource as sent in delta responses. */
  io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource() {
    return deltaResource;
  }

  /** This resource's contribution to its type's version sum (see {@link Versions#pairHash}). */
  long pairHash() {
    return pairHash;
  }

  /** Serialized size of the packed resource in bytes. */
  public int serializedSize() {
    return any.getSerializedSize();
  }

  /** Whether this resource has the same content as another (same version). */
  boolean sameContent(Resource other) {
    return other != null && version.equals(other.version);
  }

  @Override
  public String toString() {
    return MoreObjects.toStringHelper(this)
        .add("type", type.shortName())
        .add("name", name)
        .add("version", version)
        .add("generation", generation)
        .toString();
  }
}
