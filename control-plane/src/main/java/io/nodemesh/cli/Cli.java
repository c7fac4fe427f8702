package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.common.collect.ImmutableList;
import io.nodemesh.flags.Flag;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code status} and {@code config <node>}: what every Envoy has, and what one node holds, read from a running control
 * plane's debug port and printed as tables (or {@code -o json}).
 */
public final class Cli {

  /** The commands this class runs; {@code Main} hands their arguments here. */
  public static final List<String> COMMANDS = List.of("status", "config");

  /** How answers are printed. */
  enum Output { TABLE, JSON }

  /** Which part of a node's config {@code config} prints. */
  enum ConfigType { ALL, LISTENERS, CLUSTERS, ENDPOINTS, ROUTES }

  static final Flag<String> DEBUG_URL = Flag.text("debug-url", "http://127.0.0.1:15015",
      "the control plane's debug port (in a cluster, after kubectl -n nodemesh-system port-forward "
          + "deployment/nodemesh-control-plane 15015)");
  static final Flag<Output> OUTPUT = Flag.choice("output", Output.TABLE, Output.class,
      "table for people, json for scripts (-o json); json is the debug port's answer, unchanged");
  static final Flag<ConfigType> TYPE = Flag.choice("type", ConfigType.ALL, ConfigType.class,
      "config only: which resources of the node to print");
  static final Flag<String> TOKEN_FILE = Flag.text("token-file", "",
      "a file holding the bearer token the debug port asks for (--debug-auth=token-file or kubernetes)");
  static final Flag<Duration> TIMEOUT = Flag.duration("timeout", "10s", Duration.ofMillis(100),
      "how long to wait for the debug port");
  static final ImmutableList<Flag<?>> FLAGS = ImmutableList.of(DEBUG_URL, OUTPUT, TYPE, TOKEN_FILE, TIMEOUT);

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Cli() {}

  /** Runs {@code args} (command first); returns the exit code: 0 done, 1 the control plane failed us, 2 usage. */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    if (args.length == 0 || !COMMANDS.contains(args[0]) || List.of(args).contains("--help")
        || List.of(args).contains("-h")) {
      (args.length > 0 && COMMANDS.contains(args[0]) ? out : err).print(help());
      return args.length > 0 && COMMANDS.contains(args[0]) ? 0 : 2;
    }
    List<String> positional = new ArrayList<>();
    List<String> flags = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("-o") && i + 1 < args.length) {
        flags.add("--output=" + args[++i]);
      } else if (arg.startsWith("-o") && !arg.startsWith("--")) {
        flags.add("--output=" + arg.substring(2).replaceFirst("^=", ""));
      } else if (arg.startsWith("--")) {
        flags.add(arg);
        boolean joined = arg.contains("=");
        if (!joined && i + 1 < args.length && !args[i + 1].startsWith("-")) {
          flags.add(args[++i]);
        }
      } else {
        positional.add(arg);
      }
    }
    try {
      Flag.Resolved resolved = Flag.resolve(FLAGS, flags.toArray(String[]::new), env);
      Output output = OUTPUT.parse(resolved.values().get(OUTPUT.name()), resolved.sources().get(OUTPUT.name()));
      ConfigType type = TYPE.parse(resolved.values().get(TYPE.name()), resolved.sources().get(TYPE.name()));
      Duration timeout = TIMEOUT.parse(resolved.values().get(TIMEOUT.name()), resolved.sources().get(TIMEOUT.name()));
      DebugPortClient client = new DebugPortClient(resolved.values().get(DEBUG_URL.name()),
          resolved.values().get(TOKEN_FILE.name()), timeout);
      if (args[0].equals("status")) {
        if (!positional.isEmpty()) {
          throw new Flag.UsageException("status takes no arguments, got '" + positional.get(0) + "'");
        }
        out.print(status(client, output));
      } else {
        if (positional.size() != 1) {
          throw new Flag.UsageException("config needs exactly one node name, e.g. config node-a (status lists them)");
        }
        out.print(config(client, positional.get(0), type, output));
      }
      return 0;
    } catch (Flag.UsageException e) {
      err.println("nodemesh: " + e.getMessage());
      return 2;
    } catch (DebugPortClient.Failure e) {
      err.println("nodemesh: " + e.getMessage());
      return 1;
    }
  }

  static String status(DebugPortClient client, Output output) throws DebugPortClient.Failure {
    String body = client.get("/debug/syncz");
    return output == Output.JSON ? pretty(body) : StatusView.render(body);
  }

  static String config(DebugPortClient client, String node, ConfigType type, Output output)
      throws DebugPortClient.Failure {
    if (node.isEmpty() || node.length() > 253 || !node.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
      throw new Flag.UsageException("'" + node + "' is not a Kubernetes node name");
    }
    String body = client.get("/debug/nodes/" + node + "/config");
    return ConfigView.render(body, type, output);
  }

  static String pretty(String json) throws DebugPortClient.Failure {
    try {
      return JSON.writeValueAsString(JSON.readTree(json)) + "\n";
    } catch (java.io.IOException e) {
      throw new DebugPortClient.Failure("the debug port answered something that is not JSON: " + e.getMessage());
    }
  }

  static JsonNode parse(String json) throws DebugPortClient.Failure {
    try {
      return JSON.readTree(json);
    } catch (java.io.IOException e) {
      throw new DebugPortClient.Failure("the debug port answered something that is not JSON: " + e.getMessage());
    }
  }

  static ObjectMapper json() {
    return JSON;
  }

  /** Usage of both commands and their flags, generated from the declarations above. */
  public static String help() {
    StringBuilder help = new StringBuilder(
        "Usage: java -jar nodemesh-control-plane.jar status [-o table|json] [--flag=value ...]\n"
            + "       java -jar nodemesh-control-plane.jar config <node> [--type=listeners|clusters|endpoints|routes]"
            + " [-o table|json]\n\n"
            + "status: every connected Envoy and proxyless client: its node, and per type (CDS, LDS, EDS, RDS) whether\n"
            + "it is SYNCED (ACKed the latest version), STALE (a newer version is on its way) or NACKED (rejected it),\n"
            + "with the version it holds. config: the listeners, clusters, endpoints and routes the control plane\n"
            + "holds for one node (what its Envoy gets), as tables, or as Envoy's config_dump JSON with -o json.\n\n"
            + "Flags:\n");
    return help.append(Flag.describe(FLAGS)).toString();
  }
}
