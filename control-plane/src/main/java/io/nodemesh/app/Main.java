package io.nodemesh.app;

import ch.qos.logback.classic.Level;
import io.nodemesh.common.LogLevel;
import io.nodemesh.flags.Flag;
import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
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
    if (Arrays.asList(args).contains("--demo")) {
      System.err.println("nodemesh: the demo is its own jar (the production jar carries no embedded API):"
          + " mvn -B -q package -DskipTests -pl demo -am && java -jar demo/target/nodemesh-demo.jar");
      System.exit(2);
      return;
    }
    // whatever close() met, the process ends: vert.x's event-loop threads are not daemons and would keep it up
    System.exit(serve(() -> Settings.parse(args, System.getenv()), ControlPlane::start, plane -> { }));
  }

  /** Starts an {@link Application}; a usage error or {@link IOException} while starting means exit code 2. */
  @FunctionalInterface
  public interface Starter<T extends Application> {
    T start(Settings settings) throws Exception;
  }

  /**
   * Parses the settings, runs what {@code starter} starts until SIGTERM/SIGINT, then closes it; {@code started}
   * sees it once started. Returns the process exit code: 0 after a clean shutdown, 2 when the configuration cannot
   * work as given (a bad flag, a port that cannot be opened: retrying it unchanged will not help).
   */
  public static <T extends Application> int serve(Supplier<Settings> parse, Starter<T> starter, Consumer<T> started)
      throws Exception {
    Settings settings;
    try {
      settings = parse.get();
    } catch (Flag.UsageException e) {
      System.err.println("nodemesh: " + e.getMessage());
      return 2;
    }
    setLogLevel(settings.get(Settings.LOG_LEVEL));
    CountDownLatch stop = new CountDownLatch(1);
    // handle the signals ourselves: a clean shutdown then exits 0 instead of the JVM's 143
    Signal.handle(new Signal("TERM"), signal -> stop.countDown());
    Signal.handle(new Signal("INT"), signal -> stop.countDown());
    T application;
    try {
      application = starter.start(settings);
    } catch (Flag.UsageException | IOException e) {
      // the message names the port or flag; a stack trace would not help
      System.err.println("nodemesh: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      // the caller exits the process either way: whatever was started must not keep the JVM up
      LoggerFactory.getLogger(Main.class).error("could not start", e);
      return 1;
    }
    AtomicInteger exitCode = new AtomicInteger();
    application.xdsStarted().whenComplete((port, error) -> {
      if (error != null) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        System.err.println("nodemesh: the xDS port " + settings.get(Settings.XDS_PORT)
            + " could not be opened (--xds-port): " + cause.getMessage());
        exitCode.set(2);
        stop.countDown();
      }
    });
    started.accept(application);
    stop.await();
    try {
      application.close();
    } catch (RuntimeException e) {
      LoggerFactory.getLogger(Main.class).error("shutdown did not finish cleanly", e);
      return 1;
    }
    return exitCode.get();
  }

  private static void setLogLevel(LogLevel level) {
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(Level.toLevel(level.name()));
  }
}
