package io.nodemesh.app;

import ch.qos.logback.classic.Level;
import io.nodemesh.common.LogLevel;
import io.nodemesh.flags.Flag;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Entry point of {@code nodemesh-control-plane.jar}: parses flags, runs the control plane until SIGTERM/SIGINT;
 * {@code status} and {@code config <node>} run the operator's CLI instead.
 */
public final class Main {

  private Main() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("node-agent")) {
      System.err.println("nodemesh: the node agent is its own jar: java -jar node-agent/target/nodemesh-node-agent.jar"
          + " [install-cni | uninstall] [flags] (in the image: nodemesh node-agent ...)");
      System.exit(2);
      return;
    }
    if (args.length > 0 && io.nodemesh.cli.Cli.COMMANDS.contains(args[0])) {
      // status and config read a running control plane's debug port, like istioctl proxy-status / proxy-config
      System.exit(io.nodemesh.cli.Cli.run(args, System.getenv(), System.out, System.err));
      return;
    }
    if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
      System.out.print(Settings.help());
      return;
    }
    Settings settings;
    try {
      settings = Settings.parse(args, System.getenv());
    } catch (Flag.UsageException e) {
      System.err.println("nodemesh: " + e.getMessage());
      System.exit(2);
      return;
    }
    setLogLevel(settings.get(Settings.LOG_LEVEL));

    CountDownLatch stop = new CountDownLatch(1);
    // handle the signals ourselves: a clean shutdown then exits 0 instead of the JVM's 143
    Signal.handle(new Signal("TERM"), signal -> stop.countDown());
    Signal.handle(new Signal("INT"), signal -> stop.countDown());

    ControlPlane plane;
    try {
      plane = ControlPlane.start(settings);
    } catch (Flag.UsageException e) {
      System.err.println("nodemesh: " + e.getMessage());
      System.exit(2);
      return;
    } catch (IOException e) {
      // a port that cannot be opened: the message names the port and its flags; a stack trace would not help.
      // Exit 2 like a bad flag: the configuration cannot work as given, retrying it unchanged will not help
      System.err.println("nodemesh: " + e.getMessage());
      System.exit(2);
      return;
    }
    AtomicInteger exitCode = new AtomicInteger();
    plane.xdsStarted().whenComplete((port, error) -> {
      if (error != null) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        System.err.println("nodemesh: the xDS port " + settings.get(Settings.XDS_PORT)
            + " could not be opened (--xds-port): " + cause.getMessage());
        exitCode.set(2);
        stop.countDown();
      }
    });
    if (plane.demo() != null) {
      printDemoGuide(plane);
    }
    stop.await();
    try {
      plane.close();
    } finally {
      // whatever close() met, the process ends: vert.x's event-loop threads are not daemons and would keep it up
      System.exit(exitCode.get());
    }
  }

  private static void printDemoGuide(ControlPlane plane) {
    plane.xdsStarted().thenAccept(xdsPort -> {
      String probe = "http://127.0.0.1:" + plane.adminPort();
      String debug = "http://" + plane.debugAddress() + ":" + plane.debugPort();
      String kubeconfig;
      try {
        kubeconfig = plane.demo().kubeconfig().toString();
      } catch (IOException e) {
        kubeconfig = "(not written: " + e.getMessage() + "; use kubectl --server=" + plane.demo().url() + ")";
      }
      String cli = "java -jar " + jarPath();
      String debugFlag = plane.debugPort() == 15015 ? "" : " --debug-url=" + debug;
      System.out.printf("%n=== nodemesh demo is running ===%n"
          + "  embedded Kubernetes API : %s   (kubectl works: export KUBECONFIG=%s)%n"
          + "  xDS (ADS) for Envoys    : 127.0.0.1:%d   (node.metadata.node_name = node-a | node-b | node-c)%n"
          + "  demo Envoys             : one simulated Envoy per node is connected%n"
          + "  probe port              : %s/healthz, /readyz, /metrics%n"
          + "  debug port              : %s/debug   (loopback only unless --debug-address/--debug-auth say otherwise)%n"
          + "  try                     : %s status%s%n"
          + "                            %s config node-a%s --type listeners%n"
          + "                            kubectl run web --image=nginx --labels=app=frontend; kubectl get pods -o wide%n"
          + "                            curl %s/debug/pods?namespace=demo%n"
          + "                            curl %s/debug/nodes/node-a/config%n"
          + "                            curl %s/metrics%n"
          + "  a pod comes or goes every few seconds; Ctrl-C stops the demo%n%n",
          plane.demo().url(), kubeconfig, xdsPort, probe, debug, cli, debugFlag, cli, debugFlag, debug, debug, probe);
    });
  }

  /** How this jar was started, relative to the working directory when it lies below it: what to type again. */
  private static String jarPath() {
    try {
      Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path here = Path.of("").toAbsolutePath();
      return jar.startsWith(here) ? here.relativize(jar).toString() : jar.toString();
    } catch (Exception e) {
      return "nodemesh-control-plane.jar";
    }
  }

  private static void setLogLevel(LogLevel level) {
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(Level.toLevel(level.name()));
  }
}
