package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** GETs from a control plane's debug port, with its bearer token when one is configured; failures say what to do. */
final class DebugPortClient {

  /** What the command line reports instead of a stack trace; exit code 1. */
  static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;

    Failure(String message) {
      super(message);
    }
  }

  /**
   * One client for the process: Java 17's HttpClient cannot be closed, and each instance would keep its idle
   * connection open, counting against the debug port's per-address connection limit.
   */
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final String baseUrl;
  private final Optional<String> token;
  private final Duration timeout;

  DebugPortClient(String baseUrl, String tokenFile, Duration timeout) throws Failure {
    this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    this.timeout = timeout;
    this.token = readToken(tokenFile);
  }

  private static Optional<String> readToken(String tokenFile) throws Failure {
    if (tokenFile.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Files.readString(Path.of(tokenFile), StandardCharsets.UTF_8).strip());
    } catch (IOException e) {
      throw new Failure("cannot read the token file " + tokenFile + " (--token-file): " + e.getMessage());
    }
  }

  /** The body of a 200 answer to {@code path} (which starts with {@code /debug/}). */
  String get(String path) throws Failure {
    URI uri;
    try {
      uri = URI.create(baseUrl + path);
    } catch (IllegalArgumentException e) {
      throw new Failure("not a URL: " + baseUrl + path + " (--debug-url)");
    }
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout).GET();
    token.ifPresent(value -> request.header("Authorization", "Bearer " + value));
    HttpResponse<String> response;
    try {
      response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (ConnectException e) {
      throw new Failure("cannot reach the control plane's debug port at " + baseUrl + " (--debug-url): connection "
          + "refused. Is it running? In a cluster: kubectl -n nodemesh-system port-forward "
          + "deployment/nodemesh-control-plane 15015");
    } catch (HttpTimeoutException e) {
      throw new Failure("no answer from " + baseUrl + " within " + timeout.toMillis() + " ms (--timeout)");
    } catch (IOException e) {
      throw new Failure("cannot read " + uri + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure("interrupted");
    }
    return switch (response.statusCode()) {
      case 200 -> response.body();
      case 401, 403 -> throw new Failure("the debug port refused the request (HTTP " + response.statusCode() + "): "
          + reason(response.body()) + (token.isEmpty() ? "; pass a bearer token with --token-file" : ""));
      default -> throw new Failure("HTTP " + response.statusCode() + " from " + uri + ": " + reason(response.body()));
    };
  }

  /** The debug port's errors are {@code {"error": "...", "status": N}}; anything else is shown as its first line. */
  private static String reason(String body) {
    try {
      JsonNode error = Cli.json().readTree(body).path("error");
      if (error.isTextual()) {
        return firstLine(error.asText());
      }
    } catch (IOException notJson) {
      // shown as text below
    }
    return firstLine(body);
  }

  private static String firstLine(String body) {
    String line = body.strip().lines().findFirst().orElse("");
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }
}
