package io.nodemesh.admin;

import io.nodemesh.http.AdminListeners;
import io.nodemesh.http.PrometheusMetrics;
import io.nodemesh.k8s.KubernetesWatchers;
import io.nodemesh.k8s.ResourceKind;
import io.nodemesh.xds.ClientKind;
import io.nodemesh.xds.ResourceType;
import io.nodemesh.xds.XdsMetrics;
import io.nodemesh.xds.XdsServer;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The control plane's Prometheus metrics. Counters kept by the xDS and watcher layers are read at scrape time
 * (callbacks), so the hot paths only bump their own adders; histograms are recorded here.
 */
public final class ControlPlaneMetrics extends PrometheusMetrics {

  private static final double[] LATENCY_BOUNDS =
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  private final Histogram convergence = Histogram.builder()
      .name("nodemesh_convergence_seconds")
      .help("Time from a Kubernetes event being observed to a client ACKing a response that includes it")
      .labelNames("type")
      .classicUpperBounds(LATENCY_BOUNDS)
      .register(registry);
  private final Histogram translation = Histogram.builder()
      .name("nodemesh_translation_seconds")
      .help("Time to translate one debounced batch of changes into resources")
      .classicUpperBounds(LATENCY_BOUNDS)
      .register(registry);
  private final Histogram batchServices = Histogram.builder()
      .name("nodemesh_debounce_batch_services")
      .help("Services retranslated per debounced batch")
      .classicUpperBounds(0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000)
      .register(registry);
  private final Histogram batchNodes = Histogram.builder()
      .name("nodemesh_debounce_batch_nodes")
      .help("Nodes retranslated per debounced batch")
      .classicUpperBounds(0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000)
      .register(registry);

  /** Registers the callbacks that read the xDS server's, the watchers' and the pipeline's own counters. */
  public ControlPlaneMetrics(XdsServer xds, Supplier<KubernetesWatchers> watchers, IntSupplier queueDepth) {
    // every type's series exists from the start, so a dashboard's rate() is 0 rather than absent until a change
    for (ResourceType type : ResourceType.values()) {
      convergence.initLabelValues(type.shortName());
    }
    GaugeWithCallback.builder()
        .name("nodemesh_xds_connected_clients").help("Connected xDS streams by client kind").labelNames("kind")
        .callback(cb -> {
          Map<String, Long> byKind = new java.util.TreeMap<>();
          for (ClientKind kind : ClientKind.values()) {
            byKind.put(kind.toString(), 0L);
          }
          xds.clients().forEach(client -> byKind.merge(client.kind().toString(), 1L, Long::sum));
          byKind.forEach((kind, count) -> cb.call(count, kind));
        })
        .register(registry);
    perType("nodemesh_xds_pushes", "xDS responses sent by type", xds, XdsMetrics.Snapshot::pushes);
    perType("nodemesh_xds_push_bytes", "Serialized bytes of xDS responses sent by type", xds,
        XdsMetrics.Snapshot::pushBytes);
    perType("nodemesh_xds_acks", "ACKs received by type", xds, XdsMetrics.Snapshot::acks);
    perType("nodemesh_xds_nacks", "NACKs received by type", xds, XdsMetrics.Snapshot::nacks);
    CounterWithCallback.builder()
        .name("nodemesh_xds_bad_requests").help("Malformed or unexpected xDS requests by reason")
        .labelNames("reason")
        .callback(cb -> xds.metrics().badRequests().forEach((reason, count) -> cb.call(count, reason.name())))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_oversize_responses").help("SotW responses larger than the max message size")
        .callback(cb -> cb.call(xds.metrics().oversizeResponses()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_limit_rejections")
        .help("Per-client limits hit, by limit (streams_total, streams_per_address, subscribed_names,"
            + " name_bytes_per_address and message_size end or refuse a stream with RESOURCE_EXHAUSTED,"
            + " first_request_deadline with DEADLINE_EXCEEDED; request_rate delays the next read)")
        .labelNames("limit")
        .callback(cb -> xds.metrics().limits().forEach(
            (limit, count) -> cb.call(count, limit.name().toLowerCase(Locale.ROOT))))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_authorized_streams").help("xDS streams admitted, by how the client was authorized")
        .labelNames("how")
        .callback(cb -> xds.metrics().authorized().forEach((how, count) -> cb.call(count, how)))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_auth_denied")
        .help("xDS streams refused by node authorization (PERMISSION_DENIED, or UNAVAILABLE when the check could not"
            + " run), by reason")
        .labelNames("reason")
        .callback(cb -> xds.metrics().authDenied().forEach((reason, count) -> cb.call(count, reason)))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_pin_reports")
        .help("Node agents' pin reports (issue 16), by outcome: accepted, or why refused")
        .labelNames("outcome")
        .callback(cb -> xds.metrics().pinReports().forEach((outcome, count) -> cb.call(count, outcome)))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_nack_isolation_probes")
        .help("Subset responses re-sent to find the resource(s) behind a delta NACK")
        .callback(cb -> cb.call(xds.metrics().isolationProbes()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_nack_isolations_abandoned")
        .help("NACK isolations stopped at --xds-nack-isolation-max-probes")
        .callback(cb -> cb.call(xds.metrics().isolationsAbandoned()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_paused_sends")
        .help("Times a split delta push waited between responses until a slow client could take more")
        .callback(cb -> cb.call(xds.metrics().pausedSends()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_quarantine_full")
        .help("Rejected resources not quarantined because the principal's or the server's quarantine was full")
        .callback(cb -> cb.call(xds.metrics().quarantineFull()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_xds_quarantines").help("Resources quarantined for a client that rejected them")
        .callback(cb -> cb.call(xds.metrics().quarantined()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("nodemesh_xds_quarantined_resources")
        .help("Resources currently withheld from a client that rejected them, until their content changes")
        .callback(cb -> cb.call(xds.quarantine().size()))
        .register(registry);
    CounterWithCallback.builder()
        .name("nodemesh_informer_events").help("Informer events received by kind").labelNames("kind")
        .callback(cb -> {
          KubernetesWatchers current = watchers.get();
          if (current != null) {
            for (Map.Entry<ResourceKind, Long> entry : current.eventCounts().entrySet()) {
              cb.call(entry.getValue(), entry.getKey().name());
            }
          }
        })
        .register(registry);
    GaugeWithCallback.builder()
        .name("nodemesh_translation_queue_depth").help("Debounced updates waiting for the translator")
        .callback(cb -> cb.call(queueDepth.getAsInt()))
        .register(registry);
  }

  /** Counters of the Kubernetes Events written for quarantined resources. */
  public void registerEventCounters(LongSupplier created, LongSupplier failed, LongSupplier suppressed) {
    CounterWithCallback.builder()
        .name("nodemesh_kubernetes_events").help("Kubernetes Events written (XdsResourceRejected), by result")
        .labelNames("result")
        .callback(cb -> {
          cb.call(created.getAsLong(), "created");
          cb.call(failed.getAsLong(), "failed");
          cb.call(suppressed.getAsLong(), "suppressed");
        })
        .register(registry);
  }

  /**
   * Route status writes ({@code nodemesh_route_status_writes_total} by result) and whether this replica holds the
   * route status Lease ({@code nodemesh_route_status_leader}, 1 or 0).
   */
  public void registerRouteStatus(LongSupplier written, LongSupplier failed, java.util.function.BooleanSupplier leader) {
    CounterWithCallback.builder()
        .name("nodemesh_route_status_writes").help("HTTPRoute/GRPCRoute status updates sent, by result")
        .labelNames("result")
        .callback(cb -> {
          cb.call(written.getAsLong(), "written");
          cb.call(failed.getAsLong(), "failed");
        })
        .register(registry);
    GaugeWithCallback.builder()
        .name("nodemesh_route_status_leader").help("1 while this replica holds the route status Lease and writes")
        .callback(cb -> cb.call(leader.getAsBoolean() ? 1 : 0))
        .register(registry);
  }

  /** Counts the admin listeners' refusals ({@code nodemesh_admin_refused_total}). */
  public void registerAdminRefusals(AdminListeners listeners) {
    registry.register(listeners.refusalCounter("nodemesh_admin_refused"));
  }

  private void perType(String name, String help, XdsServer xds,
      Function<XdsMetrics.Snapshot, Map<ResourceType, Long>> values) {
    CounterWithCallback.builder().name(name).help(help).labelNames("type")
        .callback(cb -> values.apply(xds.metrics()).forEach((type, count) -> cb.call(count, type.shortName())))
        .register(registry);
  }

  /** Records one convergence observation for a resource type. */
  public void observeConvergence(ResourceType type, double seconds) {
    convergence.labelValues(type.shortName()).observe(seconds);
  }

  public void observeTranslation(double seconds, int services, int nodes) {
    translation.observe(seconds);
    batchServices.observe(services);
    batchNodes.observe(nodes);
  }
}
