package io.nodemesh.xds;

import com.google.common.base.MoreObjects;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.UnsafeByteOperations;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * One xDS resource as the store holds it: its content-hash version and its serialised bytes, from which the
 * wire forms (the SotW {@code Any} and the delta {@code Resource}) are made.
 *
 * <p>Two forms. Small resources (shared clusters, endpoints, routes: sent to many streams) keep their wire
 * forms built once and shared by every stream that sends them. Large ones (pod listeners: one per pod, each
 * sent to its node's one or two streams) keep only their bytes, deflated, and build the wire forms per send.
 * A pod listener with a chain per service port (per-pod binding, or a pod scoped to many ports) is mostly
 * repetition (type URLs, the netns path in every chain) and deflates about 12:1; measured with the first
 * layout at 30,000 pods, that was ~350 MB against ~30 MB of heap. The shared-binding listener of an unscoped
 * pod (~1.4 KB) stays below the threshold and keeps its wire forms.
 * Inflating costs ~5 us per 12 KB listener per send.
 *
 * <p>No message object graph is kept (it is several times the serialised size); {@link #message()} parses the
 * bytes when asked.
 *
 * <p>Immutable and thread-safe. Two instances with the same type, name and version carry the same bytes.
 */
public final class Resource {

  /**
   * zlib streams are costly to set up (a deflater allocates ~256 KB of native state): one per thread, reset
   * after each use. The translator thread deflates; the stream threads inflate.
   */
  private static final ThreadLocal<Deflater> DEFLATER = ThreadLocal.withInitial(() -> new Deflater(Deflater.BEST_SPEED));
  private static final ThreadLocal<Inflater> INFLATER = ThreadLocal.withInitial(Inflater::new);

  private final ResourceType type;
  private final String name;
  private final String version;
  /** Wire forms, built once; null in the compact form. */
  private final Any any;
  private final io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource;
  /** The compact form: the deflated serialised bytes; null when the wire forms are kept. */
  private final byte[] deflated;
  private final int rawSize;
  private final int anySize;
  private final int deltaSize;
  private final long pairHash;
  private final long generation;
  /** This resource renamed, as last served under another name ({@link #servedAs}); a cache, rebuilt when lost. */
  private volatile Resource servedAs;

  private Resource(
      ResourceType type,
      String name,
      String version,
      Any any,
      io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource,
      byte[] deflated,
      int rawSize,
      int anySize,
      int deltaSize,
      long pairHash,
      long generation) {
    this.type = type;
    this.name = name;
    this.version = version;
    this.any = any;
    this.deltaResource = deltaResource;
    this.deflated = deflated;
    this.rawSize = rawSize;
    this.anySize = anySize;
    this.deltaSize = deltaSize;
    this.pairHash = pairHash;
    this.generation = generation;
  }

  /**
   * Serialises and hashes a resource (and deflates a large one); its name is the one inside the message.
   * Costly, so callers prepare resources before handing a batch to the store's single writer.
   */
  public static Resource of(Message message) {
    ResourceType type = ResourceType.of(message);
    String name = type.nameOf(message);
    if (name.isEmpty()) {
      throw new IllegalArgumentException(type.shortName() + " resource without a name");
    }
    ByteString bytes = Versions.deterministicBytes(message);
    String version = Versions.ofBytes(bytes);
    long pairHash = Versions.pairHash(name, version);
    Any any = Any.newBuilder().setTypeUrl(type.typeUrl()).setValue(bytes).build();
    io.envoyproxy.envoy.service.discovery.v3.Resource delta = deltaResource(name, version, any);
    // memoise the sizes now, while one thread owns the objects, so senders only read them; and the UTF-8 form
    // of the strings (protobuf keeps it once asked), so a resource sent to 1,000 streams is not re-encoded 1,000 times
    int anySize = any.getSerializedSize();
    int deltaSize = delta.getSerializedSize();
    any.getTypeUrlBytes();
    delta.getNameBytes();
    delta.getVersionBytes();
    if (bytes.size() >= XdsTunables.COMPACT_ABOVE_BYTES) {
      byte[] deflated = deflate(bytes);
      if (deflated.length * 2 <= bytes.size()) {
        return new Resource(type, name, version, null, null, deflated, bytes.size(), anySize, deltaSize, pairHash, 0);
      }
    }
    return new Resource(type, name, version, any, delta, null, bytes.size(), anySize, deltaSize, pairHash, 0);
  }

  private static io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource(String name, String version, Any any) {
    return io.envoyproxy.envoy.service.discovery.v3.Resource.newBuilder()
        .setName(name)
        .setVersion(version)
        .setResource(any)
        .build();
  }

  /** The same resource stamped with the store generation that introduced this version. */
  Resource withGeneration(long newGeneration) {
    return new Resource(type, name, version, any, deltaResource, deflated, rawSize, anySize, deltaSize, pairHash,
        newGeneration);
  }

  /**
   * This resource under another name, same generation: a locality's variant served by the name the client asked
   * for. Kept once built, since a variant is always served under the same name; two threads may both build it.
   */
  Resource servedAs(String servedName) {
    if (servedName.equals(name)) {
      return this;
    }
    Resource renamed = servedAs;
    if (renamed == null || !renamed.name.equals(servedName)) {
      renamed = of(type.withName(message(), servedName)).withGeneration(generation);
      servedAs = renamed;
    }
    return renamed;
  }

  /** Whether only the deflated bytes are kept (wire forms built per send). */
  boolean isCompact() {
    return deflated != null;
  }

  /** Bytes of heap this resource's content takes (deflated or wire form), for tests and measurements. */
  int retainedBytes() {
    return deflated != null ? deflated.length : rawSize;
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
          .parseFrom(bytes());
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("stored bytes of " + type.shortName() + " " + name + " do not parse", e);
    }
  }

  /** The store generation at which this version first appeared (0 before the store accepted it). */
  public long generation() {
    return generation;
  }

  /** The packed resource as sent in SotW responses (built on each call for a compact resource). */
  public Any any() {
    return any != null ? any : Any.newBuilder().setTypeUrl(type.typeUrl()).setValue(bytes()).build();
  }

  /** The resource as sent in delta responses (built on each call for a compact resource). */
  io.envoyproxy.envoy.service.discovery.v3.Resource deltaResource() {
    return deltaResource != null ? deltaResource : deltaResource(name, version, any());
  }

  /** Serialized size of {@link #deltaResource()} in bytes, without building it. */
  int deltaSerializedSize() {
    return deltaSize;
  }

  /** This resource's contribution to its type's version sum (see {@link Versions#pairHash}). */
  long pairHash() {
    return pairHash;
  }

  /** Serialized size of the packed resource ({@link #any()}) in bytes. */
  public int serializedSize() {
    return anySize;
  }

  private ByteString bytes() {
    return any != null ? any.getValue() : inflate(deflated, rawSize);
  }

  private static byte[] deflate(ByteString bytes) {
    Deflater deflater = DEFLATER.get();
    try {
      deflater.setInput(bytes.asReadOnlyByteBuffer());
      deflater.finish();
      byte[] out = new byte[bytes.size() / 4 + 64];
      int length = 0;
      while (!deflater.finished()) {
        if (length == out.length) {
          out = Arrays.copyOf(out, out.length * 2);
        }
        length += deflater.deflate(out, length, out.length - length);
      }
      return Arrays.copyOf(out, length);
    } finally {
      deflater.reset();
    }
  }

  private static ByteString inflate(byte[] deflated, int rawSize) {
    Inflater inflater = INFLATER.get();
    try {
      inflater.setInput(deflated);
      byte[] out = new byte[rawSize];
      int length = 0;
      while (length < rawSize && !inflater.finished()) {
        int n = inflater.inflate(out, length, rawSize - length);
        if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
          break;
        }
        length += n;
      }
      if (length != rawSize) {
        throw new IllegalStateException("deflated resource inflated to " + length + " of " + rawSize + " bytes");
      }
      return UnsafeByteOperations.unsafeWrap(out);
    } catch (DataFormatException e) {
      throw new IllegalStateException("deflated resource does not inflate", e);
    } finally {
      inflater.reset();
    }
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
