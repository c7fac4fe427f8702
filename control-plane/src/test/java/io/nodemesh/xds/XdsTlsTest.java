package io.nodemesh.xds;

import static io.nodemesh.xds.TestResources.endpoints;
import static io.nodemesh.xds.TestResources.envoyNode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.nodemesh.security.XdsTls;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the xDS port with certificates generated at test time by {@code openssl}: clients that trust the
 * CA connect, others cannot; a certificate file replaced on disk is served without a restart; with a client
 * CA, clients must present a certificate it signed.
 */
class XdsTlsTest {

  private static boolean openssl;

  @TempDir
  Path dir;

  private final List<ManagedChannel> channels = new ArrayList<>();
  private XdsTls tls;
  private LoopbackXdsServer server;

  @BeforeAll
  static void findOpenssl() {
    try {
      Process process = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
      openssl = process.waitFor(20, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      openssl = false;
    }
  }

  @AfterEach
  void close() {
    channels.forEach(ManagedChannel::shutdownNow);
    if (server != null) {
      server.close();
    }
    if (tls != null) {
      tls.close();
    }
  }

  private void run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("%s: %s", String.join(" ", command), output).isZero();
  }

  /** A self-signed CA: {@code name}.crt and {@code name}.key. */
  private Path ca(String name) throws IOException, InterruptedException {
    Assumptions.assumeTrue(openssl, "openssl is not on the PATH: the TLS tests need it to generate certificates");
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name);
    return dir.resolve(name + ".crt");
  }

  /** A leaf certificate for localhost/127.0.0.1 signed by {@code ca}: {@code name}.crt and {@code name}.key. */
  private void leaf(String name, String ca) throws IOException, InterruptedException {
    Files.writeString(dir.resolve(name + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name);
    run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
        "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext");
  }

  private File file(String name) {
    return dir.resolve(name).toFile();
  }

  private void startServer(String cert, String key, String clientCa) throws Exception {
    tls = XdsTls.fromFiles(dir.resolve(cert).toString(), dir.resolve(key).toString(),
        clientCa == null ? null : dir.resolve(clientCa).toString(), Duration.ofMillis(100));
    server = new LoopbackXdsServer(XdsServerOptions.DEFAULTS, XdsEventListener.NONE, 4 * 1024 * 1024,
        tls.credentials());
    server.apply(UpdateBatch.builder().put(endpoints("a", "10.0.0.1", 80)).build());
  }

  private ManagedChannel channel(ChannelCredentials credentials) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port(), credentials)
        .overrideAuthority("localhost")
        .build();
    channels.add(channel);
    return channel;
  }

  private ManagedChannel trusting(String caFile) throws IOException {
    return channel(TlsChannelCredentials.newBuilder().trustManager(file(caFile)).build());
  }

  /** Subscribes once: the response, or null when the stream failed (its status in {@code error}). */
  private static DeltaDiscoveryResponse fetch(ManagedChannel channel, List<Status> error) {
    try (var client = AdsTestClient.Delta.connect(channel, envoyNode("envoy-1", "node-1"))) {
      client.subscribe(ResourceType.ENDPOINT, "a");
      long deadline = System.nanoTime() + AdsTestClient.RESPONSE_TIMEOUT.toNanos();
      while (System.nanoTime() < deadline) {
        DeltaDiscoveryResponse response = client.pollResponse(Duration.ofMillis(20));
        if (response != null) {
          return response;
        }
        if (client.ended()) {
          error.add(Status.fromThrowable(client.awaitError()));
          return null;
        }
      }
      throw new AssertionError("neither a response nor an error within " + AdsTestClient.RESPONSE_TIMEOUT);
    }
  }

  @Test
  void aClientTrustingTheCaConnectsOverTls() throws Exception {
    ca("ca");
    leaf("server", "ca");
    startServer("server.crt", "server.key", null);

    DeltaDiscoveryResponse response = fetch(trusting("ca.crt"), new ArrayList<>());

    assertThat(response).isNotNull();
    assertThat(AdsTestClient.Delta.resourceNames(response)).containsExactly("a");
  }

  @Test
  void clientsThatDoNotTrustTheServerOrSpeakPlaintextCannotConnect() throws Exception {
    ca("ca");
    ca("other-ca");
    leaf("server", "ca");
    startServer("server.crt", "server.key", null);
    List<Status> errors = new ArrayList<>();

    assertThat(fetch(trusting("other-ca.crt"), errors)).isNull();
    ManagedChannel plaintext = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    channels.add(plaintext);
    assertThat(fetch(plaintext, errors)).isNull();

    assertThat(errors).extracting(Status::getCode).containsOnly(Status.Code.UNAVAILABLE);
    assertThat(server.clients()).isEmpty();
  }

  @Test
  void aCertificateReplacedOnDiskIsServedWithoutARestart() throws Exception {
    ca("ca");
    ca("next-ca");
    leaf("server", "ca");
    leaf("rotated", "next-ca");
    startServer("server.crt", "server.key", null);
    List<Status> errors = new ArrayList<>();
    assertThat(fetch(trusting("next-ca.crt"), errors)).as("before the rotation").isNull();

    // as a Secret update does: new files appear at the same paths
    Files.move(dir.resolve("rotated.key"), dir.resolve("server.key"), StandardCopyOption.REPLACE_EXISTING);
    Files.move(dir.resolve("rotated.crt"), dir.resolve("server.crt"), StandardCopyOption.REPLACE_EXISTING);
    long later = System.currentTimeMillis() + 2000;
    assertThat(file("server.key").setLastModified(later) && file("server.crt").setLastModified(later)).isTrue();

    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
        .until(() -> fetch(trusting("next-ca.crt"), new ArrayList<>()) != null);
    assertThat(fetch(trusting("ca.crt"), errors)).as("the old CA no longer matches").isNull();
  }

  @Test
  void withAClientCaOnlyClientsWithACertificateItSignedConnect() throws Exception {
    ca("ca");
    ca("clients-ca");
    ca("rogue-ca");
    leaf("server", "ca");
    leaf("envoy", "clients-ca");
    leaf("rogue", "rogue-ca");
    startServer("server.crt", "server.key", "clients-ca.crt");
    List<Status> errors = new ArrayList<>();

    assertThat(fetch(trusting("ca.crt"), errors)).as("no client certificate").isNull();
    assertThat(fetch(channel(TlsChannelCredentials.newBuilder().trustManager(file("ca.crt"))
        .keyManager(file("rogue.crt"), file("rogue.key")).build()), errors)).as("certificate of another CA").isNull();
    DeltaDiscoveryResponse response = fetch(channel(TlsChannelCredentials.newBuilder().trustManager(file("ca.crt"))
        .keyManager(file("envoy.crt"), file("envoy.key")).build()), errors);

    assertThat(response).as("certificate signed by the client CA").isNotNull();
    assertThat(errors).hasSize(2);
  }

  @Test
  void missingOrInvalidFilesFailAtStartupWithTheFileName() throws Exception {
    ca("ca");
    Files.writeString(dir.resolve("garbage.pem"), "not a certificate");

    assertThatThrownBy(() -> XdsTls.fromFiles(dir.resolve("nope.crt").toString(), dir.resolve("ca.key").toString(),
        null, Duration.ofSeconds(1))).hasMessageContaining("nope.crt");
    assertThatThrownBy(() -> XdsTls.fromFiles(dir.resolve("garbage.pem").toString(),
        dir.resolve("ca.key").toString(), null, Duration.ofSeconds(1))).isNotNull();
  }
}
