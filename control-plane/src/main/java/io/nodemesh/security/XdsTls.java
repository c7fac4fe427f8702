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
import com.google.common.hash.HashCode;
import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import java.nio.file.Files;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS for the xDS port from mounted files (a Kubernetes Secret): the server certificate chain and key, and
 * optionally a CA bundle that client certificates must chain to (then a client without one is refused in
 * the handshake). The credentials use grpc-java's {@link AdvancedTlsX509KeyManager} and
 * {@link AdvancedTlsX509TrustManager}, which can be updated while the server runs; the files are re-read every
 * {@code reloadInterval} and, when their content changed, loaded into them, so a rotated Secret (cert-manager,
 * kubelet's atomic symlink swap) is served to new connections without a restart. grpc-java's own periodic
 * reload is not used: it refuses periods under a minute and needs both files' timestamps to change. A file
 * that fails to load is logged and the previous credentials stay in use.
 *
 * <p>Thread-safe; {@link #close()} stops the reload timer.
 */
public final class XdsTls implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(XdsTls.class);

  private final ServerCredentials credentials;
  private final ScheduledExecutorService reloader;
  private final String description;

  private XdsTls(ServerCredentials credentials, ScheduledExecutorService reloader, String description) {
    this.credentials = credentials;
    this.reloader = reloader;
    this.description = description;
  }

  /**
   * Loads the files (failing now, naming the file, if one is missing or invalid) and starts watching them.
   *
   * @param clientCaFile CA bundle for client certificates, or null/"" for server-only TLS
   */
  public static XdsTls fromFiles(String certFile, String keyFile, String clientCaFile, Duration reloadInterval)
      throws IOException, GeneralSecurityException {
    File cert = readable(certFile, "certificate");
    File key = readable(keyFile, "private key");
    File clientCa = clientCaFile == null || clientCaFile.isEmpty() ? null : readable(clientCaFile, "client CA");

    AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
    Watched identity = new Watched(List.of(cert, key), () -> keys.updateIdentityCredentials(cert, key),
        "server certificate " + certFile + " / key " + keyFile);
    identity.load();
    TlsServerCredentials.Builder builder = TlsServerCredentials.newBuilder().keyManager(keys);
    List<Watched> watched = new ArrayList<>(List.of(identity));
    String description = "server certificate " + certFile;
    if (clientCa != null) {
      AdvancedTlsX509TrustManager trust = AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
          .build();
      Watched authorities = new Watched(List.of(clientCa), () -> trust.updateTrustCredentials(clientCa),
          "client CA " + clientCaFile);
      authorities.load();
      watched.add(authorities);
      builder.trustManager(trust).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      description += ", client certificates required (CA " + clientCaFile + ")";
    }
    description += ", files checked for changes every " + reloadInterval.toMillis() + " ms";
    ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "xds-tls-reload");
      thread.setDaemon(true);
      return thread;
    });
    long period = Math.max(1, reloadInterval.toMillis());
    reloader.scheduleWithFixedDelay(() -> watched.forEach(Watched::reloadIfChanged), period, period,
        TimeUnit.MILLISECONDS);
    return new XdsTls(builder.build(), reloader, description);
  }

  private static File readable(String path, String what) throws IOException {
    File file = new File(path);
    if (!file.isFile() || !file.canRead()) {
      throw new IOException("xDS TLS " + what + " file " + path + " does not exist or is not readable");
    }
    return file;
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
    reloader.shutdownNow();
  }

  /** Files loaded together into one manager, reloaded when their content changes. */
  private static final class Watched {
    interface Loader {
      void load() throws IOException, GeneralSecurityException;
    }

    private final List<File> files;
    private final Loader loader;
    private final String what;
    private HashCode loaded;

    Watched(List<File> files, Loader loader, String what) {
      this.files = files;
      this.loader = loader;
      this.what = what;
    }

    void load() throws IOException, GeneralSecurityException {
      HashCode content = digest();
      try {
        loader.load();
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        throw new GeneralSecurityException("xDS TLS: cannot load " + what + ": " + e.getMessage(), e);
      }
      loaded = content;
    }

    void reloadIfChanged() {
      try {
        HashCode content = digest();
        if (content.equals(loaded)) {
          return;
        }
        load();
        log.info("xDS TLS: reloaded {}; new connections use it", what);
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        log.warn("xDS TLS: {} changed but could not be loaded; keeping the previous one: {}", what, e.getMessage());
      }
    }

    private HashCode digest() throws IOException {
      Hasher hasher = Hashing.sha256().newHasher();
      for (File file : files) {
        byte[] bytes = Files.readAllBytes(file.toPath());
        hasher.putInt(bytes.length).putBytes(bytes);
      }
      return hasher.hash();
    }
  }
}
