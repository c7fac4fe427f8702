package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nodemesh.http.AdminListeners;
import io.nodemesh.http.AdminServer;
import io.nodemesh.http.DebugAuthMode;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.PodInfo;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's plumbing without root: spool requests written as the plugin writes them, a pod directory whose API
 * can fail, iptables that must not be reached, and the CNI configuration it keeps in place.
 */
class NodeAgentTest {

  private static final String UID = "0b7c6a3e-1d2f-4e5a-9b8c-7d6e5f4a3b2c";

  @TempDir
  Path root;
  private final FakePods pods = new FakePods();
  private final List<String> iptablesCalls = new ArrayList<>();
  private NodeAgent agent;
  private AdminListeners admin;
  private Path spool;
  private Path conf;

  @BeforeEach
  void setUp() throws IOException {
    spool = root.resolve("spool");
    conf = root.resolve("net.d");
    Files.createDirectories(conf);
    Files.writeString(conf.resolve("10-main.conflist"),
        "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"plugins\":[{\"type\":\"ptp\"}]}");
    AgentSettings settings = AgentSettings.of(Map.of(
        "node-name", "node-1",
        "netns-template", root.resolve("pins") + "/{podUid}",
        "cni-spool-dir", spool.toString(),
        "cni-bin-dir", root.resolve("bin").toString(),
        "cni-conf-dir", conf.toString(),
        "resync-interval", "1h"));
    NetnsIptables unreachable = new NetnsIptables() {
      @Override
      public String saveNat(Path pin) throws IOException {
        iptablesCalls.add("save " + pin);
        throw new IOException("no iptables in this test");
      }

      @Override
      public void restore(Path pin, String payload) throws IOException {
        iptablesCalls.add("restore " + pin);
        throw new IOException("no iptables in this test");
      }
    };
    agent = new NodeAgent(settings, pods, unreachable, CniInstaller.of(settings), Clock.systemUTC());
    admin = AdminListeners.create(new AdminListeners.Config("127.0.0.1", 0, "127.0.0.1", 0, DebugAuthMode.NONE, "",
        new AdminServer.Limits(Duration.ofSeconds(10), 64, 64)), () -> null);
    AgentAdmin.register(admin.probe(), admin.debug(), agent, settings);
    admin.start();
    agent.start();
  }

  @AfterEach
  void tearDown() {
    agent.close();
    admin.close();
  }

  @Test
  void theConflistEntryComesBackSoonAfterTheMainCniRewritesItsFile() throws IOException {
    assertThat(Files.readString(conf.resolve("10-main.conflist"))).contains("nodemesh-cni");

    Files.writeString(conf.resolve("10-main.conflist"),
        "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"plugins\":[{\"type\":\"ptp\",\"mtu\":1400}]}");

    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(Files.readString(conf.resolve("10-main.conflist"))).contains("nodemesh-cni").contains("1400"));
  }

  @Test
  void anApiOutageIsAnErrorAnswerNeverAGuess() throws IOException {
    pods.apiDown.set(true);

    String answer = request("add-" + UID + "-100", "ADD");

    assertThat(answer).contains("status=error").contains("cannot read pod shop/web-1 from the Kubernetes API");
    assertThat(iptablesCalls).isEmpty();
  }

  @Test
  void aPodThatIsNotInTheApiIsSkipped() throws IOException {
    String answer = request("add-" + UID + "-101", "ADD");

    assertThat(answer).contains("status=skip").contains("pod not found");
  }

  @Test
  void aMalformedRequestIsAnsweredWithTheReasonAndAStrangeFileIsDropped() throws IOException {
    Path requests = spool.resolve("requests");
    Files.writeString(requests.resolve("add-" + UID + "-102.req"),
        "version=1\ncommand=ADD\npodUid=" + UID + "\npin=/etc/passwd\n");
    Files.writeString(requests.resolve("rm -rf.req"), "version=1\n");

    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(spool.resolve("responses/add-" + UID + "-102")));
    assertThat(Files.readString(spool.resolve("responses/add-" + UID + "-102"))).contains("status=error")
        .contains("malformed request");
    await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(requests.resolve("rm -rf.req")));
    assertThat(spool.resolve("responses/rm -rf")).doesNotExist();
  }

  @Test
  void readinessWaitsForTheCachesAndNamesWhatIsMissing() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    URI readyz = URI.create("http://127.0.0.1:" + admin.probe().port() + "/readyz");

    HttpResponse<String> before = http.send(HttpRequest.newBuilder(readyz).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(before.statusCode()).isEqualTo(503);
    assertThat(before.body()).contains("caches not synced");

    pods.synced.set(true);
    agent.reconcileNow().get();

    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
        http.send(HttpRequest.newBuilder(readyz).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(200));
    HttpResponse<String> metrics = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.probe().port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(metrics.body()).contains("nodemesh_agent_pins{state=\"redirected\"} 0");
    HttpResponse<String> healthz = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.probe().port() + "/healthz")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(healthz.statusCode()).isEqualTo(200);
  }

  @Test
  void pinnedPodsAndFlagsAreOnTheDebugPortOnlyAndStalledClientsDoNotDelayTheProbes() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    List<java.net.Socket> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 50; i++) {
        java.net.Socket socket = new java.net.Socket("127.0.0.1", admin.probe().port());
        socket.getOutputStream().write("GET /healthz HT".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        stalled.add(socket);
      }

      HttpResponse<String> healthz = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + admin.probe().port() + "/healthz")).timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> podsOnProbe = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + admin.probe().port() + "/debug/pods")).build(), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> podsOnDebug = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + admin.debug().port() + "/debug/pods")).build(), HttpResponse.BodyHandlers.ofString());

      assertThat(healthz.statusCode()).isEqualTo(200);
      assertThat(podsOnProbe.statusCode()).isEqualTo(404);
      assertThat(podsOnDebug.statusCode()).isEqualTo(200);
    } finally {
      for (java.net.Socket socket : stalled) {
        socket.close();
      }
    }
  }

  /** Writes a request as the plugin does (temporary file, then rename) and waits for the answer. */
  private String request(String id, String command) throws IOException {
    Path requests = spool.resolve("requests");
    Path tmp = requests.resolve("." + id + ".tmp");
    Files.writeString(tmp, "version=1\ncommand=" + command + "\ncontainerId=c0ffee\npodUid=" + UID
        + "\npodNamespace=shop\npodName=web-1\nifname=eth0\nnetns=/proc/1/ns/net\npin=" + root.resolve("pins") + "/"
        + UID + "\nips=10.244.0.5/24\n");
    Files.move(tmp, requests.resolve(id + ".req"));
    Path response = spool.resolve("responses").resolve(id);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(response));
    assertThat(requests.resolve(id + ".req")).as("the agent removes what it answered").doesNotExist();
    return Files.readString(response);
  }

  /** A pod directory with no pods whose API can be switched off. */
  private static final class FakePods implements PodDirectory {
    final AtomicBoolean apiDown = new AtomicBoolean();
    final AtomicBoolean synced = new AtomicBoolean();

    @Override
    public void start(Listener listener) {}

    @Override
    public boolean synced() {
      return synced.get();
    }

    @Override
    public Optional<PodInfo> byUid(String uid) {
      return Optional.empty();
    }

    @Override
    public Optional<PodInfo> lookup(String namespace, String name) {
      if (apiDown.get()) {
        throw new IllegalStateException("connection refused");
      }
      return Optional.empty();
    }

    @Override
    public Optional<NamespaceInfo> namespace(String name) {
      return lookup(name, name).map(pod -> null);
    }

    @Override
    public void close() {}
  }
}
