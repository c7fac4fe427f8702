package io.nodemesh.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.common.collect.ImmutableList;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoint: GET-only JSON (and Prometheus text) over the JDK's HTTP server. Every endpoint is
 * registered with a one-line description, listed at {@code GET /debug}. Handlers read immutable snapshots
 * only, so they run on a small pool of their own and never block the control plane.
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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

    /** A pre-rendered JSON document (e.g. from protobuf's JsonFormat). */
    public static Response rawJson(String json) {
      return new Response(200, "application/json", json.getBytes(StandardCharsets.UTF_8));
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

  private final List<Route> routes = new ArrayList<>();
  private final HttpServer server;
  private final ExecutorService pool;

  /** Binds the port (0 picks a free one) without serving yet; register endpoints, then {@link #start()}. */
  public AdminServer(String host, int port) throws IOException {
    this.server = HttpServer.create(new InetSocketAddress(host, port), 64);
    this.pool = Executors.newFixedThreadPool(2, runnable -> {
      Thread thread = new Thread(runnable, "nodemesh-admin");
      thread.setDaemon(true);
      return thread;
    });
    server.setExecutor(pool);
    server.createContext("/", this::dispatch);
    register("/debug", "this list: every admin endpoint with a one-line description", (p, q) -> Response.json(index()));
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

  public void start() {
    server.start();
    log.info("admin endpoint listening on port {} (GET /debug lists the endpoints)", port());
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private synchronized List<Route> snapshot() {
    return ImmutableList.copyOf(routes);
  }

  private Map<String, String> index() {
    Map<String, String> index = new LinkedHashMap<>();
    for (Route route : snapshot()) {
      index.put(route.template(), route.description());
    }
    return index;
  }

  private void dispatch(HttpExchange exchange) throws IOException {
    Response response;
    try {
      URI uri = exchange.getRequestURI();
      if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
        response = Response.error(405, "only GET is supported");
      } else {
        response = route(uri.getRawPath(), query(uri.getRawQuery()))
            .orElseGet(() -> Response.error(404, "no such endpoint: " + uri.getPath() + " (see /debug)"));
      }
    } catch (Exception e) {
      log.warn("admin request {} failed", exchange.getRequestURI(), e);
      response = Response.error(500, "internal error: " + e.getClass().getSimpleName());
    }
    exchange.getResponseHeaders().set("Content-Type", response.contentType() + "; charset=utf-8");
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(response.status(), head ? -1 : response.body().length);
    if (!head) {
      try (OutputStream body = exchange.getResponseBody()) {
        body.write(response.body());
      }
    }
    exchange.close();
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

  private static Map<String, String> query(String raw) {
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

  private static String decode(String text) {
    return java.net.URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdown();
    try {
      pool.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
