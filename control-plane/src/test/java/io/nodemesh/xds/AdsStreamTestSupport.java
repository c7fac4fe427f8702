package io.nodemesh.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.nodemesh.api.envoy.EnvoyTypes;

/** Small helpers shared by the xDS tests. */
final class AdsStreamTestSupport {

  private AdsStreamTestSupport() {}

  static Message unpack(Any any) {
    try {
      return EnvoyTypes.unpack(any);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
