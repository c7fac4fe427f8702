package io.nodemesh.demo;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** One demo for a test class ({@code @RegisterExtension}): started before its first test, closed after its last. */
public final class DemoExtension implements BeforeAllCallback, AfterAllCallback {

  private final String[] flags;
  private final HttpClient http = HttpClient.newHttpClient();
  private Demo demo;

  /** A demo on free ports with these extra control plane flags. */
  public DemoExtension(String... flags) {
    this.flags = flags;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    demo = DemoPlanes.start(flags);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (demo != null) {
      demo.close();
    }
  }

  public Demo demo() {
    return demo;
  }

  /** GET {@code path} on the demo's debug port. */
  public HttpResponse<String> debug(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.plane().debugPort() + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
