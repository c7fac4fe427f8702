package io.nodemesh.e2e;

import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/** Closes what a test started, in the order given, skipping what never started (null). */
final class Teardown {

  private Teardown() {}

  /** gRPC channels are shut down and awaited for up to 5 s; everything else must be {@link AutoCloseable}. */
  static void closeAll(Object... resources) throws Exception {
    for (Object resource : resources) {
      if (resource instanceof ManagedChannel channel) {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      } else if (resource != null) {
        ((AutoCloseable) resource).close();
      }
    }
  }
}
