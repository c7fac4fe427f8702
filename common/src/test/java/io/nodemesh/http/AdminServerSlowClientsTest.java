package io.nodemesh.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nodemesh.http.AdminServer.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 14, finding 5: stalled clients froze the admin server (two workers reading request heads without a
 * timeout; /healthz timed out for over 100 s). Here 50 slow clients hold connections on each port while
 * /healthz answers within 1 s, the read timeout then closes them, and a trickling client cannot outrun it.
 * All traffic stays on loopback; every loop is bounded.
 */
class AdminServerSlowClientsTest {

  private static final int SLOW_CLIENTS = 50;
  private static final Duration ONE_SECOND = Duration.ofSeconds(1);

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(ONE_SECOND).build();
  private final List<Socket> sockets = new ArrayList<>();
  private AdminListeners listeners;

  private AdminListeners start(AdminServer.Limits limits) throws IOException {
    listeners = AdminListeners.create(new AdminListeners.Config("127.0.0.1", 0, "127.0.0.1", 0, DebugAuthMode.NONE, "",
        limits), () -> null);
    for (AdminServer server : List.of(listeners.probe(), listeners.debug())) {
      server.register("/healthz", "liveness", (p, q) -> Response.json(Map.of("status", "ok")));
    }
    listeners.debug().registerIndex();
    listeners.start();
    return listeners;
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket socket : sockets) {
      socket.close();
    }
    if (listeners != null) {
      listeners.close();
    }
  }

  @Test
  void healthzAnswersWithinOneSecondWhileFiftySlowClientsHoldEachPortAndTheReadTimeoutThenClosesThem()
      throws Exception {
    Duration readTimeout = Duration.ofSeconds(2);
    start(new AdminServer.Limits(readTimeout, 256, 256));
    List<Socket> slow = new ArrayList<>();
    for (AdminServer server : List.of(listeners.probe(), listeners.debug())) {
      for (int i = 0; i < SLOW_CLIENTS; i++) {
        // half of them send nothing, half stop in the middle of the request line
        slow.add(connect(server.port(), InetAddress.getLoopbackAddress(), i % 2 == 0 ? "" : "GET /healthz HT"));
      }
    }
    await("slow clients accepted").atMost(Duration.ofSeconds(5))
        .until(() -> listeners.probe().openConnections() + listeners.debug().openConnections() >= 2 * SLOW_CLIENTS);

    long start = System.nanoTime();
    HttpResponse<String> health = get(listeners.probe().port(), "/healthz", ONE_SECOND);
    double seconds = (System.nanoTime() - start) / 1e9;
    HttpResponse<String> debugIndex = get(listeners.debug().port(), "/debug", ONE_SECOND);

    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("ok");
    assertThat(debugIndex.statusCode()).isEqualTo(200);
    System.out.printf("[slow-clients] /healthz answered in %.3f s with %d slow clients on each port%n", seconds,
        SLOW_CLIENTS);
    await("read timeout closes the slow clients").atMost(readTimeout.plusSeconds(5))
        .untilAsserted(() -> assertThat(slow).allSatisfy(socket -> assertThat(closedByServer(socket)).isTrue()));
    assertThat(listeners.probe().refusals().get("read-timeout")).isGreaterThanOrEqualTo(SLOW_CLIENTS);
    assertThat(listeners.debug().refusals().get("read-timeout")).isGreaterThanOrEqualTo(SLOW_CLIENTS);
    assertThat(get(listeners.debug().port(), "/healthz", ONE_SECOND).statusCode()).isEqualTo(200);
  }

  @Test
  void aClientTricklingItsHeadersIsClosedAtTheReadTimeoutThoughItKeepsSending() throws Exception {
    Duration readTimeout = Duration.ofMillis(1500);
    start(new AdminServer.Limits(readTimeout, 256, 256));
    Socket trickler = connect(listeners.probe().port(), InetAddress.getLoopbackAddress(), "GET /healthz HTTP/1.1\r\n");
    long start = System.nanoTime();
    boolean closed = false;
    // one header byte every 100 ms would keep an idle timeout from ever firing; bounded at 100 bytes (10 s)
    for (int i = 0; i < 100 && !closed; i++) {
      try {
        trickler.getOutputStream().write('X');
        trickler.getOutputStream().flush();
      } catch (IOException e) {
        closed = true;
      }
      closed = closed || closedByServer(trickler, 100);
    }
    double seconds = (System.nanoTime() - start) / 1e9;

    // the read timeout, not the end of the trickle, closed it: trickling went on for at most 10 s
    assertThat(closed).as("closed while the client still trickled").isTrue();
    System.out.printf("[slow-clients] trickler closed after %.1f s (read timeout %.1f s)%n", seconds,
        readTimeout.toMillis() / 1000.0);
    assertThat(listeners.probe().refusals().get("read-timeout")).isEqualTo(1);
  }

  @Test
  void aKeptAliveConnectionMustSendItsNextRequestWithinTheReadTimeout() throws Exception {
    start(new AdminServer.Limits(Duration.ofMillis(1000), 256, 256));
    Socket keptAlive = connect(listeners.probe().port(), InetAddress.getLoopbackAddress(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    keptAlive.setSoTimeout(5000);
    String first = readResponseHead(keptAlive.getInputStream());
    assertThat(first).startsWith("HTTP/1.1 200");

    keptAlive.getOutputStream().write("GET /heal".getBytes(StandardCharsets.US_ASCII));
    await().atMost(Duration.ofSeconds(5)).until(() -> closedByServer(keptAlive));
  }

  @Test
  void anAddressOverItsConnectionLimitIsTurnedAwayWhileOtherAddressesStillGetTheirProbes() throws Exception {
    start(new AdminServer.Limits(Duration.ofSeconds(30), 256, 4));
    InetAddress attacker = InetAddress.getByName("127.0.0.2"); // all of 127/8 is loopback on Linux
    List<Socket> held = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      held.add(connect(listeners.probe().port(), attacker, "G"));
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> listeners.probe().openConnections() == 4);

    Socket fifth = connect(listeners.probe().port(), attacker, "");

    await().atMost(Duration.ofSeconds(5)).until(() -> closedByServer(fifth));
    assertThat(listeners.probe().refusals().get("too-many-connections")).isEqualTo(1);
    assertThat(held).noneSatisfy(socket -> assertThat(closedByServer(socket, 10)).isTrue());
    assertThat(get(listeners.probe().port(), "/healthz", ONE_SECOND).statusCode()).isEqualTo(200);
  }

  @Test
  void oversizedRequestLinesAndHeadersAreRefusedAndCounted() throws Exception {
    start(new AdminServer.Limits(Duration.ofSeconds(10), 256, 256));
    String longPath = "/" + "a".repeat(AdminServer.MAX_REQUEST_LINE_BYTES + 1);
    Socket longLine = connect(listeners.debug().port(), InetAddress.getLoopbackAddress(),
        "GET " + longPath + " HTTP/1.1\r\nHost: x\r\n\r\n");
    Socket bigHeaders = connect(listeners.debug().port(), InetAddress.getLoopbackAddress(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + "b".repeat(AdminServer.MAX_HEADER_BYTES + 1) + "\r\n\r\n");
    longLine.setSoTimeout(5000);
    bigHeaders.setSoTimeout(5000);

    assertThat(readResponseHead(longLine.getInputStream())).containsPattern("^HTTP/1\\.[01] 414 ");
    assertThat(readResponseHead(bigHeaders.getInputStream())).containsPattern("^HTTP/1\\.[01] 431 ");
    assertThat(listeners.debug().refusals().get("invalid-request")).isEqualTo(2);
  }

  @Test
  void onlyGetAndHeadWithoutABodyAreServedAndABadEscapeIsABadRequest() throws Exception {
    start(new AdminServer.Limits(Duration.ofSeconds(10), 256, 256));
    int port = listeners.debug().port();

    HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).timeout(ONE_SECOND).build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).timeout(ONE_SECOND).build(),
        HttpResponse.BodyHandlers.ofString());
    listeners.debug().register("/echo/{word}", "echo", (p, q) -> Response.json(p));
    Socket badEscape = connect(port, InetAddress.getLoopbackAddress(), "GET /echo/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    badEscape.setSoTimeout(5000);

    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).contains("GET, HEAD");
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(readResponseHead(badEscape.getInputStream())).startsWith("HTTP/1.1 400");
    Socket withBody = connect(port, InetAddress.getLoopbackAddress(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc");
    withBody.setSoTimeout(5000);
    assertThat(readResponseHead(withBody.getInputStream())).startsWith("HTTP/1.1 413");
    await().atMost(Duration.ofSeconds(5)).until(() -> closedByServer(withBody));
    assertThat(get(port, "/echo/a%20b", ONE_SECOND).body()).contains("a b");
  }

  private HttpResponse<String> get(int port, String path, Duration timeout) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(timeout).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private Socket connect(int port, InetAddress from, String prefix) throws IOException {
    Socket socket = new Socket();
    sockets.add(socket);
    socket.bind(new InetSocketAddress(from, 0));
    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
    OutputStream out = socket.getOutputStream();
    out.write(prefix.getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return socket;
  }

  private static boolean closedByServer(Socket socket) {
    return closedByServer(socket, 50);
  }

  /** Whether the server closed the connection: end of stream or a reset, seen within {@code waitMillis}. */
  private static boolean closedByServer(Socket socket, int waitMillis) {
    try {
      socket.setSoTimeout(waitMillis);
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[4096];
      for (int i = 0; i < 64; i++) { // drain a pending response (at most 256 KiB) before the end of stream
        if (in.read(buffer) < 0) {
          return true;
        }
      }
      return false;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  /** The status line and headers of one response. */
  private static String readResponseHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n") && head.length() < 16 * 1024) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.append((char) b);
    }
    return head.toString();
  }
}
