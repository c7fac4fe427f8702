package io.nodemesh.agent;

import io.nodemesh.http.AdminListeners;
import io.nodemesh.http.PrometheusMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/** The node agent's Prometheus metrics. */
public final class AgentMetrics extends PrometheusMetrics {

  private final Counter cniRequests = Counter.builder()
      .name("nodemesh_agent_cni_requests").help("CNI plugin requests answered, by command and status")
      .labelNames("command", "status")
      .register(registry);
  private final Histogram cniLatency = Histogram.builder()
      .name("nodemesh_agent_cni_request_seconds")
      .help("Time from the plugin writing a request to the agent's answer (queueing + lookup + iptables)")
      .labelNames("command")
      .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
      .register(registry);
  private final Counter ruleChanges = Counter.builder()
      .name("nodemesh_agent_rule_changes")
      .help("Redirect rule sets written into pod namespaces: installed (none before), repaired (drifted), removed")
      .labelNames("action")
      .register(registry);
  private final Counter ruleErrors = Counter.builder()
      .name("nodemesh_agent_rule_errors").help("Failed iptables operations in pod namespaces")
      .register(registry);
  private final Counter pinsCollected = Counter.builder()
      .name("nodemesh_agent_pins_collected").help("Pins removed because their pod no longer exists")
      .register(registry);
  private final Counter rejectedAnnotations = Counter.builder()
      .name("nodemesh_agent_rejected_annotations")
      .help("Exclusion annotations rejected as invalid (the pod is redirected without them)")
      .register(registry);
  private final Counter cniConfigRepairs = Counter.builder()
      .name("nodemesh_agent_cni_config_writes")
      .help("Times the plugin or its conflist entry was (re)installed, e.g. after the main CNI rewrote its file")
      .register(registry);

  private final Histogram listenerWait = Histogram.builder()
      .name("nodemesh_agent_listener_wait_seconds")
      .help("ADD: from the request to every Envoy of the node holding the pod's listener; DEL: to none holding it;"
          + " by command and outcome (held, removed, timed_out)")
      .labelNames("command", "outcome")
      .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
      .register(registry);
  private final Counter listenerWaitTimeouts = Counter.builder()
      .name("nodemesh_agent_listener_wait_timeouts")
      .help("Listener waits that reached --listener-wait, by command and reason (no_envoy: no Envoy of the node"
          + " connected to any replica; no_answer: no replica answered; not_held: an Envoy did not ACK in time)")
      .labelNames("command", "reason")
      .register(registry);
  private final Counter pinReports = Counter.builder()
      .name("nodemesh_agent_pin_reports")
      .help("Pin reports sent to control plane replicas, by outcome (answered, failed)")
      .labelNames("outcome")
      .register(registry);

  /** {@code podStates} is read at scrape time: pins by state. */
  public AgentMetrics(Supplier<Map<String, Long>> podStates) {
    GaugeWithCallback.builder()
        .name("nodemesh_agent_pins").help("Pinned pod network namespaces on this node, by redirect state")
        .labelNames("state")
        .callback(cb -> podStates.get().forEach((state, count) -> cb.call(count, state)))
        .register(registry);
  }

  /** Counts the admin listeners' refusals ({@code nodemesh_agent_admin_refused_total}). */
  public void registerAdminRefusals(AdminListeners listeners) {
    registry.register(listeners.refusalCounter("nodemesh_agent_admin_refused"));
  }

  public void cniRequest(CniRequest.Command command, CniAnswer.Status status, double seconds) {
    String name = command.name().toLowerCase(Locale.ROOT);
    cniRequests.labelValues(name, status.name().toLowerCase(Locale.ROOT)).inc();
    cniLatency.labelValues(name).observe(seconds);
  }

  public void listenerWait(CniRequest.Command command, String outcome, double seconds) {
    listenerWait.labelValues(command.name().toLowerCase(Locale.ROOT), outcome).observe(seconds);
  }

  public void listenerWaitTimeout(CniRequest.Command command, String reason) {
    listenerWaitTimeouts.labelValues(command.name().toLowerCase(Locale.ROOT), reason).inc();
  }

  public void pinReport(int answered, int failed) {
    pinReports.labelValues("answered").inc(answered);
    pinReports.labelValues("failed").inc(failed);
  }

  public void ruleChange(String action) {
    ruleChanges.labelValues(action).inc();
  }

  public void ruleError() {
    ruleErrors.inc();
  }

  public void pinCollected() {
    pinsCollected.inc();
  }

  public void rejectedAnnotation() {
    rejectedAnnotations.inc();
  }

  public void cniConfigWritten() {
    cniConfigRepairs.inc();
  }
}
