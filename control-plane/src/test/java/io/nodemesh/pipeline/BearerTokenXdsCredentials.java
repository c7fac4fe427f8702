package io.nodemesh.pipeline;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.xds.XdsCredentialsProvider;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * grpc-xds channel credentials {@code nodemesh_test_bearer} (registered through {@code META-INF/services}): plaintext
 * plus {@code authorization: Bearer <config.token>} on the ADS stream, as a pod's proxyless client presents its
 * service account token. Bootstrap entry: {@code {"type": "nodemesh_test_bearer", "config": {"token": "..."}}}.
 */
public final class BearerTokenXdsCredentials extends XdsCredentialsProvider {

  /** The {@code channel_creds} type this provider answers to. */
  public static final String TYPE = "nodemesh_test_bearer";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The bootstrap's {@code channel_creds} entry presenting {@code token}. */
  static Map<String, ?> presenting(String token) {
    return Map.of("type", TYPE, "config", Map.of("token", token));
  }

  @Override
  protected ChannelCredentials newChannelCredentials(Map<String, ?> config) {
    Object token = config == null ? null : config.get("token");
    if (!(token instanceof String text) || text.isEmpty()) {
      return null;
    }
    return CompositeChannelCredentials.create(InsecureChannelCredentials.create(), new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + text);
        applier.apply(headers);
      }
    });
  }

  @Override
  protected String getName() {
    return TYPE;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int priority() {
    return 5;
  }
}
