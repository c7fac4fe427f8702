package io.nodemesh.http;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** A process's Prometheus registry and its text exposition: what {@code /metrics} of each port serves. */
public abstract class PrometheusMetrics {

  /** Where subclasses register their metrics. */
  protected final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

  /** The Prometheus text exposition of every metric. */
  public String scrape() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writer.write(out, registry.scrape());
    return out.toString(StandardCharsets.UTF_8);
  }

  public String contentType() {
    return writer.getContentType();
  }
}
