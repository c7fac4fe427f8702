package io.nodemesh.http;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.google.common.collect.ImmutableList;
import io.nodemesh.http.DebugAccess.Outcome;
import io.nodemesh.http.DebugAccess.Verdict;
import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin HTTP listener: GET-only JSON (and Prometheus text). It runs on Vert.x (Netty), which reads request
 * heads without a thread of their own, so a client that connects and stalls, or trickles its request, holds a
 * socket, never a worker. The head must arrive within the read timeout, a connection without traffic for that
 * long is closed, the request line and headers are size-capped, connections are capped per listener and per
 * client address, and handlers run on a small pool with a bounded queue (503 when it is full). Every request
 * passes {@link DebugAccess} before routing. The control plane and the node agent each run two: the probe listener
 * ({@code /healthz}, {@code /readyz}, {@code /metrics}) and the debug listener (every endpoint, {@code GET /debug}
 * lists them).
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  /**
   * The admin API's one JSON style: snake_case names, RFC 3339 timestamps, absent rather than empty for
   * unknown optionals, no HTML escaping (Jackson never escapes; protobuf's printer does, hence
   * {@link Response#rawJson}).
   */
  static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .registerModule(new Jdk8Module().configureAbsentsAsNulls(true))
      .registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .setSerializationInclusion(JsonInclude.Include.NON_ABSENT);
  /** Longest request line: the longest admin path (a pod's namespace and name) is far below it. */
  static final int MAX_REQUEST_LINE_BYTES = 4096;
  /** All headers together: room for a bearer token (service account tokens are ~1-2 KiB). */
  static final int MAX_HEADER_BYTES = 16 * 1024;
  private static final int HANDLER_THREADS = 2;
  private static final int HANDLER_QUEUE = 64;

  /**
   * Connection limits of one listener.
   *
   * @param readTimeout a request head must be complete this long after the connection opened (or the previous
   *     response ended); a connection without traffic in either direction for twice this long is closed
   * @param maxConnections open connections per listener; more are closed at once
   * @param maxConnectionsPerAddress open connections per client IP address; more are closed at once
   */
  public record Limits(Duration readTimeout, int maxConnections, int maxConnectionsPerAddress) {
    public Limits {
      if (readTimeout.toMillis() < 1 || maxConnections < 1 || maxConnectionsPerAddress < 1) {
        throw new IllegalArgumentException("admin limits must be positive: " + readTimeout + ", " + maxConnections
            + ", " + maxConnectionsPerAddress);
      }
    }
  }

  /** Why a request or connection was turned away; counted per listener (metric label {@link #label()}). */
  public enum Refusal {
    UNAUTHENTICATED, FORBIDDEN, AUTH_UNAVAILABLE, BUSY, TOO_MANY_CONNECTIONS, READ_TIMEOUT, INVALID_REQUEST;

    public String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /** What a handler returns. */
  public record Response(int status, String contentType, byte[] body) {
    public static Response json(Object value) {
      return json(200, value);
    }

    public static Response json(int status, Object value) {
      try {
        return new Response(status, "application/json", JSON.writeValueAsBytes(value));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    /**
     * A JSON document rendered elsewhere (protobuf's printer, which escapes {@code = ' < > &} as
     * {@code \\uXXXX}), rewritten once by Jackson, which escapes only what JSON requires.
     */
    public static Response rawJson(String json) {
      try {
        return new Response(200, "application/json", JSON.writeValueAsBytes(JSON.readTree(json)));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    public static Response text(String contentType, String text) {
      return new Response(200, contentType, text.getBytes(StandardCharsets.UTF_8));
    }

    public static Response error(int status, String message) {
      return json(status, Map.of("error", message, "status", status));
    }
  }

  /** Handles one request; {@code params} holds the path's {name} segments. */
  @FunctionalInterface
  public interface Handler {
    Response handle(Map<String, String> params, Map<String, String> query) throws Exception;
  }

  private record Route(String template, Pattern pattern, List<String> names, String description, Handler handler) {}

  /** A malformed path or query (bad percent-encoding): 400, not a handler failure. */
  private static final class BadRequest extends Exception {
    private static final long serialVersionUID = 1L;

    BadRequest(String message) {
      super(message);
    }
  }

  private final String name;
  private final String host;
  private final int requestedPort;
  private final Limits limits;
  private final DebugAccess access;
  private final List<Route> routes = new ArrayList<>();
  private final Map<Refusal, LongAdder> refusals = new EnumMap<>(Refusal.class);
  private final LogThrottle refusalLog = new LogThrottle(10_000);
  private final Map<HttpConnection, ClientConnection> open = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> openPerAddress = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor handlers;
  private final Vertx vertx;
  private volatile HttpServer server;

  /**
   * A listener on {@code host:port} (0 picks a free port) that serves nothing yet: register endpoints, then
   * {@link #start()}. {@code name} ("probe", "debug") appears in logs, thread names and metrics.
   */
  public AdminServer(String name, String host, int port, Limits limits, DebugAccess access) {
    this.name = name;
    this.host = host;
    this.requestedPort = port;
    this.limits = limits;
    this.access = access;
    for (Refusal refusal : Refusal.values()) {
      refusals.put(refusal, new LongAdder());
    }
    AtomicInteger threads = new AtomicInteger();
    this.handlers = new ThreadPoolExecutor(HANDLER_THREADS, HANDLER_THREADS, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(HANDLER_QUEUE), runnable -> {
          Thread thread = new Thread(runnable, "nodemesh-" + name + "-http-" + threads.incrementAndGet());
          thread.setDaemon(true);
          return thread;
        });
    // one event loop of its own per listener: a busy debug listener never delays a probe
    this.vertx = Vertx.vertx(new VertxOptions()
        .setEventLoopPoolSize(1)
        .setWorkerPoolSize(1)
        .setInternalBlockingPoolSize(1)
        .setUseDaemonThread(true)
        .setFileSystemOptions(new FileSystemOptions().setFileCachingEnabled(false).setClassPathResolvingEnabled(false)));
  }

  /**
   * Registers {@code GET template}, where {@code {name}} matches one path segment (or, as the last segment
   * {@code {name...}}, the rest of the path).
   */
  public synchronized AdminServer register(String template, String description, Handler handler) {
    List<String> names = new ArrayList<>();
    StringBuilder regex = new StringBuilder();
    Matcher params = Pattern.compile("\\{([a-zA-Z]+)(\\.\\.\\.)?}").matcher(template);
    int last = 0;
    while (params.find()) {
      regex.append(Pattern.quote(template.substring(last, params.start())));
      regex.append(params.group(2) == null ? "([^/]+)" : "(.+)");
      names.add(params.group(1));
      last = params.end();
    }
    regex.append(Pattern.quote(template.substring(last)));
    routes.add(new Route(template, Pattern.compile(regex.toString()), names, description, handler));
    return this;
  }

  /** Registers {@code GET /debug}: every endpoint of this listener with its one-line description. */
  public AdminServer registerIndex() {
    return register("/debug", "this list: every endpoint of this port with a one-line description",
        (p, q) -> Response.json(index()));
  }

  /** Opens the port and serves; fails if it cannot be bound. */
  public void start() throws IOException {
    HttpServerOptions options = new HttpServerOptions()
        .setHost(host)
        .setPort(requestedPort)
        // twice the read timeout: a connection awaiting its request head is closed (and counted) by the head
        // deadline first; this one catches connections stalled later, e.g. a client that stops reading a response
        .setIdleTimeout((int) Math.min(Integer.MAX_VALUE, 2 * limits.readTimeout().toMillis()))
        .setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
        .setMaxInitialLineLength(MAX_REQUEST_LINE_BYTES)
        .setMaxHeaderSize(MAX_HEADER_BYTES)
        .setHttp2ClearTextEnabled(false)
        .setCompressionSupported(false)
        .setHandle100ContinueAutomatically(false)
        .setReuseAddress(true);
    HttpServer created = vertx.createHttpServer(options)
        .connectionHandler(this::onConnection)
        .invalidRequestHandler(this::onInvalidRequest)
        .requestHandler(this::onRequest);
    try {
      server = created.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new IOException(name + " port " + host + ":" + requestedPort + " could not be opened: "
          + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IOException(name + " port " + host + ":" + requestedPort + " did not open within 30 s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while opening the " + name + " port", e);
    }
    log.info("{} endpoint listening on {}:{} (auth: {}; read timeout {} ms)", name, host, port(),
        access.description(), limits.readTimeout().toMillis());
  }

  /** The bound port; -1 before {@link #start()}. */
  public int port() {
    HttpServer current = server;
    return current == null ? -1 : current.actualPort();
  }

  public String host() {
    return host;
  }

  public String name() {
    return name;
  }

  /** Refusals so far, by {@link Refusal#label()} (every label present). */
  public Map<String, Long> refusals() {
    Map<String, Long> counts = new LinkedHashMap<>();
    refusals.forEach((refusal, count) -> counts.put(refusal.label(), count.sum()));
    return counts;
  }

  /** Open client connections (for tests and the admin view). */
  public int openConnections() {
    return open.size();
  }

  /** Every endpoint of this listener with its description. */
  public Map<String, String> index() {
    Map<String, String> index = new LinkedHashMap<>();
    for (Route route : snapshot()) {
      index.put(route.template(), route.description());
    }
    return index;
  }

  private synchronized List<Route> snapshot() {
    return ImmutableList.copyOf(routes);
  }

  // ---- connections: caps and the request-head deadline (all callbacks run on the listener's event loop)

  /** One open connection and its head deadline. */
  private final class ClientConnection {
    private final HttpConnection connection;
    private final String address;
    private long headTimer = -1;

    ClientConnection(HttpConnection connection, String address) {
      this.connection = connection;
      this.address = address;
    }

    synchronized void awaitHead() {
      cancelHeadTimer();
      headTimer = vertx.setTimer(limits.readTimeout().toMillis(), id -> {
        synchronized (this) {
          if (headTimer != id || !open.containsKey(connection)) {
            return;
          }
          headTimer = -1;
        }
        refuse(Refusal.READ_TIMEOUT, address, "no complete request within " + limits.readTimeout().toMillis() + " ms");
        connection.close();
      });
    }

    synchronized void cancelHeadTimer() {
      if (headTimer != -1) {
        vertx.cancelTimer(headTimer);
        headTimer = -1;
      }
    }
  }

  private void onConnection(HttpConnection connection) {
    String address = connection.remoteAddress() == null ? "unknown" : connection.remoteAddress().host();
    AtomicInteger fromAddress = openPerAddress.computeIfAbsent(address, a -> new AtomicInteger());
    if (open.size() >= limits.maxConnections() || fromAddress.get() >= limits.maxConnectionsPerAddress()) {
      openPerAddress.computeIfPresent(address, (a, count) -> count.get() <= 0 ? null : count);
      refuse(Refusal.TOO_MANY_CONNECTIONS, address, open.size() + " open, " + fromAddress.get()
          + " from this address (limits " + limits.maxConnections() + ", " + limits.maxConnectionsPerAddress() + ")");
      connection.close();
      return;
    }
    fromAddress.incrementAndGet();
    ClientConnection client = new ClientConnection(connection, address);
    open.put(connection, client);
    connection.closeHandler(closed -> {
      client.cancelHeadTimer();
      open.remove(connection);
      openPerAddress.computeIfPresent(address, (a, count) -> count.decrementAndGet() <= 0 ? null : count);
    });
    client.awaitHead();
  }

  private void onInvalidRequest(HttpServerRequest request) {
    String address = request.remoteAddress() == null ? "unknown" : request.remoteAddress().host();
    refuse(Refusal.INVALID_REQUEST, address, request.decoderResult().cause() == null ? "malformed request"
        : request.decoderResult().cause().getMessage());
    HttpServerRequest.DEFAULT_INVALID_REQUEST_HANDLER.handle(request);
  }

  // ---- requests

  private void onRequest(HttpServerRequest request) {
    ClientConnection client = open.get(request.connection());
    if (client != null) {
      client.cancelHeadTimer();
      // a kept-alive connection must send its next request within the read timeout too
      request.response().endHandler(ended -> client.awaitHead());
    }
    if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
      request.response().putHeader("Allow", "GET, HEAD");
      sendAndClose(request, Response.error(405, "only GET is supported"));
      return;
    }
    if (hasBody(request)) {
      // a body would be read and dropped at the client's pace, outside the head deadline: refuse it outright
      sendAndClose(request, Response.error(413, "admin requests take no body"));
      return;
    }
    CompletableFuture<Verdict> verdict;
    try {
      verdict = access.check(request.getHeader("Authorization"));
    } catch (RuntimeException e) {
      verdict = CompletableFuture.completedFuture(
          Verdict.refused(Outcome.UNAVAILABLE, "", "authentication failed: " + e.getClass().getSimpleName()));
    }
    verdict.whenComplete((decided, error) -> {
      Verdict checked = error == null ? decided
          : Verdict.refused(Outcome.UNAVAILABLE, "", "authentication failed: " + error.getClass().getSimpleName());
      if (checked.isAllowed()) {
        dispatch(request);
        return;
      }
      Refusal refusal = switch (checked.outcome()) {
        case FORBIDDEN -> Refusal.FORBIDDEN;
        case UNAVAILABLE -> Refusal.AUTH_UNAVAILABLE;
        default -> Refusal.UNAUTHENTICATED;
      };
      refuse(refusal, address(request), request.method() + " " + request.uri()
          + (checked.subject().isEmpty() ? "" : " by " + checked.subject()) + ": " + checked.reason());
      if (checked.outcome() == Outcome.UNAUTHENTICATED) {
        request.response().putHeader("WWW-Authenticate", "Bearer realm=\"nodemesh-" + name + "\"");
      }
      send(request, Response.error(checked.outcome().status(), switch (checked.outcome()) {
        case FORBIDDEN -> "forbidden: " + checked.reason();
        case UNAVAILABLE -> "authentication unavailable, retry: " + checked.reason();
        default -> "unauthenticated: " + checked.reason();
      }));
    });
  }

  private void dispatch(HttpServerRequest request) {
    try {
      handlers.execute(() -> send(request, respond(request)));
    } catch (RejectedExecutionException e) {
      refuse(Refusal.BUSY, address(request), request.method() + " " + request.uri() + ": " + HANDLER_QUEUE
          + " requests already queued");
      send(request, Response.error(503, "busy: too many admin requests at once; retry"));
    }
  }

  private Response respond(HttpServerRequest request) {
    String path = request.path();
    try {
      Map<String, String> query = query(request.query());
      return render(route(path, query)
          .orElseGet(() -> Response.error(404, "no such endpoint: " + path + " (see /debug on the debug port)")),
          query.containsKey("pretty"));
    } catch (BadRequest e) {
      return Response.error(400, e.getMessage());
    } catch (Exception e) {
      log.warn("{} endpoint: {} failed", name, SafeText.of(request.uri()), e);
      return Response.error(500, "internal error: " + e.getClass().getSimpleName());
    }
  }

  /** JSON answers are compact as built; {@code ?pretty} indents them. */
  static Response render(Response response, boolean pretty) throws IOException {
    if (!pretty || !response.contentType().startsWith("application/json")) {
      return response;
    }
    JsonNode document = JSON.readTree(response.body());
    return new Response(response.status(), response.contentType(),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(document));
  }

  /** The content type with {@code charset=utf-8}, added once (Prometheus' text format names it already). */
  static String withCharset(String contentType) {
    return contentType.toLowerCase(java.util.Locale.ROOT).contains("charset=") ? contentType
        : contentType + "; charset=utf-8";
  }

  /** Sends the response; the future completes once it is written (or could not be: the client went away). */
  private Future<Void> send(HttpServerRequest request, Response response) {
    HttpServerResponse out = request.response();
    try {
      if (out.ended() || out.closed()) {
        return Future.succeededFuture();
      }
      return out.setStatusCode(response.status())
          .putHeader("Content-Type", withCharset(response.contentType()))
          .putHeader("Cache-Control", "no-store")
          .putHeader("X-Content-Type-Options", "nosniff")
          .end(Buffer.buffer(response.body()));
    } catch (IllegalStateException e) {
      return Future.succeededFuture(); // the client went away while we were answering: nothing to send it
    }
  }

  private static boolean hasBody(HttpServerRequest request) {
    String length = request.getHeader("Content-Length");
    return request.getHeader("Transfer-Encoding") != null || (length != null && !length.trim().equals("0"));
  }

  /** Answers, then closes the connection: what is left of the request is never read. */
  private void sendAndClose(HttpServerRequest request, Response response) {
    request.response().putHeader("Connection", "close");
    HttpConnection connection = request.connection();
    send(request, response).onComplete(sent -> connection.close());
  }

  private void refuse(Refusal refusal, String address, String detail) {
    refusals.get(refusal).increment();
    long suppressed = refusalLog.admit();
    if (suppressed >= 0) {
      log.warn("{} endpoint refused {} from {}: {}{}", name, refusal.label(), SafeText.of(address),
          SafeText.of(detail), LogThrottle.suppressedNote(suppressed));
    }
  }

  private static String address(HttpServerRequest request) {
    return request.remoteAddress() == null ? "unknown" : request.remoteAddress().host();
  }

  private Optional<Response> route(String rawPath, Map<String, String> query) throws Exception {
    String path = rawPath.length() > 1 && rawPath.endsWith("/") ? rawPath.substring(0, rawPath.length() - 1) : rawPath;
    for (Route route : snapshot()) {
      Matcher match = route.pattern().matcher(path);
      if (match.matches()) {
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < route.names().size(); i++) {
          params.put(route.names().get(i), decode(match.group(i + 1)));
        }
        return Optional.of(route.handler().handle(params, query));
      }
    }
    return Optional.empty();
  }

  private static Map<String, String> query(String raw) throws BadRequest {
    Map<String, String> query = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return query;
    }
    for (String pair : raw.split("&")) {
      int equals = pair.indexOf('=');
      query.put(decode(equals < 0 ? pair : pair.substring(0, equals)), equals < 0 ? "" : decode(pair.substring(equals + 1)));
    }
    return query;
  }

  private static String decode(String text) throws BadRequest {
    try {
      return java.net.URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new BadRequest("malformed percent-encoding in the path or query");
    }
  }

  @Override
  public void close() {
    HttpServer current = server;
    try {
      if (current != null) {
        current.close().toCompletionStage().toCompletableFuture().get(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.debug("{} endpoint did not close cleanly", name, e);
    }
    handlers.shutdown();
    try {
      handlers.awaitTermination(2, TimeUnit.SECONDS);
      vertx.close().toCompletionStage().toCompletableFuture().get(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.debug("{} endpoint's event loop did not stop cleanly", name, e);
    }
  }
}
