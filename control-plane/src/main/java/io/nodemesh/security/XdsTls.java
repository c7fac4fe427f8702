package io.nodemesh.security;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import java.io.File;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS for the xDS port from mounted files (a Kubernetes Secret): the server certificate chain and key, and
 * optionally a CA bundle that client certificates must chain to (then a client without one is refused in
 * the handshake). grpc-java's advanced TLS managers re-read the files whenever their modification time
 * changes, checked every {@code reloadInterval}, so a rotated Secret (cert-manager) is served without a
 * restart; a file that fails to parse is logged and the previous credentials stay in use.
 *
 * <p>Not thread-confined; {@link #close()} stops the reload timer.
 */
public final class XdsTls implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(XdsTls.class);

  private final ServerCredentials credentials;
  private final ScheduledExecutorService reloader;
  private final List<AutoCloseable> watches;
  private final String description;

  private XdsTls(ServerCredentials credentials, ScheduledExecutorService reloader, List<AutoCloseable> watches,
      String description) {
    this.credentials = credentials;
    this.reloader = reloader;
    this.watches = watches;
    this.description = description;
  }

  /**
   * Loads the files (failing now if they are missing or invalid) and starts watching them.
   *
   * @param clientCaFile CA bundle for client certificates, or null/"" for server-only TLS
   */
  public static XdsTls fromFiles(String certFile, String keyFile, String clientCaFile, Duration reloadInterval)
      throws IOException, GeneralSecurityException {
    ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "xds-tls-reload");
      thread.setDaemon(true);
      return thread;
    });
    List<AutoCloseable> watches = new ArrayList<>();
    try {
      long period = Math.max(1, reloadInterval.toMillis());
      AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
      watches.add(keys.updateIdentityCredentials(
          new File(certFile), new File(keyFile), period, TimeUnit.MILLISECONDS, reloader));
      TlsServerCredentials.Builder builder = TlsServerCredentials.newBuilder().keyManager(keys);
      String description = "server certificate " + certFile;
      if (clientCaFile != null && !clientCaFile.isEmpty()) {
        AdvancedTlsX509TrustManager trust = AdvancedTlsX509TrustManager.newBuilder()
            .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
            .build();
        watches.add(trust.updateTrustCredentials(new File(clientCaFile), period, TimeUnit.MILLISECONDS, reloader));
        builder.trustManager(trust).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        description += ", client certificates required (CA " + clientCaFile + ")";
      }
      description += ", files re-read every " + reloadInterval.toMillis() + " ms when changed";
      return new XdsTls(builder.build(), reloader, watches, description);
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      for (AutoCloseable watch : watches) {
        closeQuietly(watch);
      }
      reloader.shutdownNow();
      throw e;
    }
  }

  /** The credentials for {@code NettyServerBuilder.forAddress(address, credentials)}. */
  public ServerCredentials credentials() {
    return credentials;
  }

  /** What is in force, for the startup log. */
  public String description() {
    return description;
  }

  @Override
  public void close() {
    for (AutoCloseable watch : watches) {
      closeQuietly(watch);
    }
    reloader.shutdownNow();
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      log.debug("closing a TLS file watch failed", e);
    }
  }
}
