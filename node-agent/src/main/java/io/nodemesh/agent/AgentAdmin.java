package io.nodemesh.agent;

import io.nodemesh.http.AdminServer.Response;
import io.nodemesh.http.AdminServer;
import io.nodemesh.flags.Flag;
import java.util.LinkedHashMap;
import java.util.Map;

/** The node agent's admin endpoints on its probe and debug {@link AdminServer}s. */
public final class AgentAdmin {

  private AgentAdmin() {}

  /**
   * Registers {@code /healthz}, {@code /readyz}, {@code /metrics} on both listeners and {@code /debug/pods},
   * {@code /debug/config} (pod network namespace paths, the agent's flags) on the debug listener only.
   */
  public static void register(AdminServer probe, AdminServer debug, NodeAgent agent, AgentSettings settings) {
    registerProbes(probe, agent);
    debug.registerIndex();
    registerProbes(debug, agent);
    debug.register("/debug/pods", "every pinned pod: redirect state, reason, rule signature, rejected annotations",
        (params, query) -> Response.json(agent.pins().values()));
    debug.register("/debug/config", "every agent flag: value in force, where it came from, description",
        (params, query) -> {
          Map<String, Object> flags = new LinkedHashMap<>();
          for (Flag<?> flag : AgentSettings.ALL) {
            flags.put(flag.name(), Map.of("value", settings.text(flag), "source", settings.source(flag),
                "description", flag.description()));
          }
          return Response.json(flags);
        });
  }

  private static void registerProbes(AdminServer server, NodeAgent agent) {
    server.register("/healthz", "liveness: the agent loop is running", (params, query) -> agent.healthy()
        ? Response.json(Map.of("status", "ok"))
        : Response.json(503, Map.of("status", "agent loop stalled")));
    server.register("/readyz", "readiness: caches synced, pins reconciled, plugin chained", (params, query) ->
        agent.ready()
            ? Response.json(Map.of("status", "ready"))
            : Response.json(503, Map.of("status", "not ready", "reasons", agent.notReadyReasons())));
    server.register("/metrics", "Prometheus metrics", (params, query) ->
        Response.text(agent.metrics().contentType(), agent.metrics().scrape()));
  }
}
