package io.nodemesh.agent;

import io.nodemesh.admin.AdminServer;
import io.nodemesh.admin.AdminServer.Response;
import io.nodemesh.app.Flag;
import java.util.LinkedHashMap;
import java.util.Map;

/** The node agent's admin endpoints on the shared {@link AdminServer}. */
public final class AgentAdmin {

  private AgentAdmin() {}

  /** Registers {@code /healthz}, {@code /readyz}, {@code /metrics}, {@code /debug/pods}, {@code /debug/config}. */
  public static void register(AdminServer server, NodeAgent agent, AgentSettings settings) {
    server.register("/healthz", "liveness: the agent loop is running", (params, query) -> agent.healthy()
        ? Response.json(Map.of("status", "ok"))
        : Response.json(503, Map.of("status", "agent loop stalled")));
    server.register("/readyz", "readiness: caches synced, pins reconciled, plugin chained", (params, query) ->
        agent.ready()
            ? Response.json(Map.of("status", "ready"))
            : Response.json(503, Map.of("status", "not ready", "reasons", agent.notReadyReasons())));
    server.register("/metrics", "Prometheus metrics", (params, query) ->
        Response.text(agent.metrics().contentType(), agent.metrics().scrape()));
    server.register("/debug/pods", "every pinned pod: redirect state, reason, rule signature, rejected annotations",
        (params, query) -> Response.json(agent.pins().values()));
    server.register("/debug/config", "every agent flag: value in force, where it came from, description",
        (params, query) -> {
          Map<String, Object> flags = new LinkedHashMap<>();
          for (Flag<?> flag : AgentSettings.ALL) {
            flags.put(flag.name(), Map.of("value", settings.text(flag), "source", settings.source(flag),
                "description", flag.description()));
          }
          return Response.json(flags);
        });
  }
}
