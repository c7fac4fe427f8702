package io.nodemesh.demo;

import io.nodemesh.app.Main;
import io.nodemesh.app.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Entry point of {@code nodemesh-demo.jar}: the control plane with the demo around it ({@link Demo}), every control
 * plane flag accepted; runs until SIGTERM/SIGINT and prints where to look.
 */
public final class DemoMain {

  /** Where the README's build leaves the production jar, whose CLI reads the demo's debug port. */
  private static final Path CONTROL_PLANE_JAR = Path.of("control-plane", "target", "nodemesh-control-plane.jar");

  private DemoMain() {}

  public static void main(String[] args) throws Exception {
    if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
      System.out.print("The nodemesh demo: the control plane on an embedded Kubernetes API with simulated Envoys."
          + "\nIt takes the control plane's flags; --trust-loopback-clients and --xds-allow-anonymous-clients"
          + " default to true here.\n\n" + Settings.help());
      return;
    }
    // the process ends whatever close() met: vert.x's event-loop threads are not daemons
    System.exit(Main.serve(() -> Demo.settings(args, System.getenv()), Demo::start, DemoMain::printGuide));
  }

  private static void printGuide(Demo demo) {
    demo.xdsStarted().thenAccept(xdsPort -> {
      var plane = demo.plane();
      String probe = "http://127.0.0.1:" + plane.adminPort();
      String debug = "http://" + plane.debugAddress() + ":" + plane.debugPort();
      String kubeconfig;
      try {
        kubeconfig = demo.cluster().kubeconfig().toString();
      } catch (IOException e) {
        kubeconfig = "(not written: " + e.getMessage() + "; use kubectl --server=" + demo.cluster().url() + ")";
      }
      String cli = "java -jar "
          + (Files.isRegularFile(CONTROL_PLANE_JAR) ? CONTROL_PLANE_JAR : "nodemesh-control-plane.jar");
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
          demo.cluster().url(), kubeconfig, xdsPort, probe, debug, cli, debugFlag, cli, debugFlag, debug, debug, probe);
    });
  }
}
