package io.nodemesh.xds;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Content-hash versions. Everything here is a pure function of the bytes, so two replicas holding the same
 * resources compute the same versions and a client can move between them without a resend.
 */
final class Versions {

  /** murmur3_128 is fast and well distributed; versions guard against change, not against an adversary. */
  private static final HashFunction HASH = Hashing.murmur3_128();

  private Versions() {}

  /**
   * Serialises with deterministic map ordering, so equal messages give equal bytes on every JVM. The
   * returned bytes are wrapped, not copied; nothing else holds the array.
   */
  static ByteString deterministicBytes(Message message) {
    byte[] buffer = new byte[message.getSerializedSize()];
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    out.useDeterministicSerialization();
    try {
      message.writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException("serialising into an array cannot fail", e);
    }
    out.checkNoSpaceLeft();
    return UnsafeByteOperations.unsafeWrap(buffer);
  }

  /** The version of one resource: 128 bits of hash over its serialised bytes, as lower-case hex. */
  static String ofBytes(ByteString bytes) {
    return HASH.hashBytes(bytes.asReadOnlyByteBuffer()).toString();
  }

  /**
   * The 64-bit contribution of one (name, version) pair to a type's version. A type's version is the sum
   * of its pairs: the same as hashing the sorted pair list for determinism, but it can be updated in
   * O(changed) when one resource out of thousands changes, instead of re-sorting per stream per push.
   */
  static long pairHash(String name, String version) {
    if (version == null) {
      return 0;
    }
    return HASH.newHasher()
        .putString(name, StandardCharsets.UTF_8)
        .putByte((byte) 0)
        .putString(version, StandardCharsets.UTF_8)
        .hash()
        .asLong();
  }

  /** The version string of a set of pairs summarised by {@link #pairHash} sums: 16 hex digits. */
  static String ofSum(long sum) {
    return String.format(Locale.ROOT, "%016x", sum);
  }
}
