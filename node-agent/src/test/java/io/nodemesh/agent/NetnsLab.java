package io.nodemesh.agent;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Real network namespaces for tests, made with {@code ip netns} and torn down by {@link #close()} whatever
 * happened. Names carry a random prefix, so parallel or leftover runs never collide; nothing outside the
 * namespaces it creates is touched (no host interface, route or iptables rule).
 */
final class NetnsLab implements AutoCloseable {

  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  final String prefix = "nmt" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 5);
  private final Deque<Runnable> cleanups = new ArrayDeque<>();
  private final List<Process> processes = new ArrayList<>();

  /** Why real-namespace tests cannot run here, or empty when they can. */
  static Optional<String> unavailableReason() {
    try {
      String uid = Commands.run(List.of("id", "-u"), "", TIMEOUT).stdout().strip();
      if (!uid.equals("0")) {
        return Optional.of("needs root to create network namespaces and mounts (running as uid " + uid + ")");
      }
      for (String tool : List.of("ip", "iptables-save", "iptables-restore", "nsenter", "mount", "umount", "bash")) {
        if (!Commands.run(List.of("sh", "-c", "command -v " + tool), "", TIMEOUT).ok()) {
          return Optional.of(tool + " is not installed (apt-get install iptables iproute2 util-linux)");
        }
      }
      String probe = "nmtprobe" + ProcessHandle.current().pid();
      Commands.Result add = Commands.run(List.of("ip", "netns", "add", probe), "", TIMEOUT);
      if (!add.ok()) {
        return Optional.of("cannot create a network namespace: " + add.stderr().strip());
      }
      try {
        Commands.Result nat = Commands.run(List.of("ip", "netns", "exec", probe, "iptables-save", "-t", "nat"), "", TIMEOUT);
        if (!nat.ok()) {
          return Optional.of("iptables nat table not usable in a namespace: " + nat.stderr().strip());
        }
      } finally {
        Commands.run(List.of("ip", "netns", "del", probe), "", TIMEOUT);
      }
      return Optional.empty();
    } catch (IOException e) {
      return Optional.of("cannot run system tools: " + e.getMessage());
    }
  }

  /** Creates namespace {@code <prefix>-<suffix>} with loopback up; removed on close. */
  String namespace(String suffix) throws IOException {
    String name = prefix + "-" + suffix;
    sh("ip", "netns", "add", name);
    cleanups.push(() -> quietly("ip", "netns", "del", name));
    sh("ip", "-n", name, "link", "set", "lo", "up");
    return name;
  }

  static Path path(String namespace) {
    return Path.of("/run/netns", namespace);
  }

  /**
   * A veth pair between a pod namespace ({@code podIp}/24, default route via {@code gatewayIp}) and a network
   * namespace holding the gateway and, on its loopback, the given "remote" addresses (service IPs etc.).
   */
  void wire(String pod, String podIp, String network, String gatewayIp, String... remoteIps) throws IOException {
    String podSide = prefix + "a";
    String netSide = prefix + "b";
    sh("ip", "link", "add", podSide, "type", "veth", "peer", "name", netSide);
    cleanups.push(() -> quietly("ip", "link", "del", podSide));
    sh("ip", "link", "set", podSide, "netns", pod);
    sh("ip", "link", "set", netSide, "netns", network);
    sh("ip", "-n", pod, "addr", "add", podIp + "/24", "dev", podSide);
    sh("ip", "-n", pod, "link", "set", podSide, "up");
    sh("ip", "-n", network, "addr", "add", gatewayIp + "/24", "dev", netSide);
    sh("ip", "-n", network, "link", "set", netSide, "up");
    sh("ip", "-n", pod, "route", "add", "default", "via", gatewayIp);
    for (String remote : remoteIps) {
      sh("ip", "-n", network, "addr", "add", remote + "/32", "dev", "lo");
    }
  }

  /** Starts a {@link TcpTagServer} inside {@code namespace} and waits until its ports are bound. */
  void tagServer(String namespace, String... portTags) throws Exception {
    Path classes = Path.of(TcpTagServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", namespace,
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx32m", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", classes.toString(),
        TcpTagServer.class.getName()));
    argv.addAll(List.of(portTags));
    Process process = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    processes.add(process);
    String line = firstLine(process, Duration.ofSeconds(30));
    if (!"ready".equals(line)) {
      throw new IOException("tag server in " + namespace + " did not start: " + line);
    }
  }

  /** The first line {@code process} prints (a server's "ready"), or null if it ends or stays silent that long. */
  static String firstLine(Process process, Duration timeout) throws Exception {
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    return CompletableFuture.supplyAsync(() -> {
      try {
        return out.readLine();
      } catch (IOException e) {
        return null;
      }
    }).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The first line a plain TCP client inside {@code namespace} reads from {@code ip:port} (bash's /dev/tcp). */
  String connect(String namespace, String ip, int port) throws IOException {
    return run("ip", "netns", "exec", namespace, "timeout", "5", "bash", "-c",
        "exec 3<>/dev/tcp/" + ip + "/" + port + " && head -n 1 <&3").strip();
  }

  /** The same from a socket that sets SO_MARK {@code mark} before connecting, as Envoy's upstream sockets do. */
  String connectMarked(String namespace, String ip, int port, int mark) throws IOException {
    String script = "use Socket; socket(my $s, AF_INET, SOCK_STREAM, 0) or die \"socket: $!\";"
        + " setsockopt($s, SOL_SOCKET, 36, pack('i', " + mark + ")) or die \"SO_MARK: $!\";"
        + " connect($s, pack_sockaddr_in(" + port + ", inet_aton('" + ip + "'))) or die \"connect: $!\";"
        + " my $line = <$s>; print $line;";
    return run("ip", "netns", "exec", namespace, "timeout", "5", "perl", "-e", script).strip();
  }

  /** {@code iptables-save -t nat} inside {@code namespace}. */
  String natTable(String namespace) throws IOException {
    return run("ip", "netns", "exec", namespace, "iptables-save", "-t", "nat");
  }

  /** Runs a command and returns its stdout; fails with its stderr. */
  static String run(String... argv) throws IOException {
    return Commands.check(List.of(argv), "", TIMEOUT);
  }

  private static void sh(String... argv) throws IOException {
    run(argv);
  }

  private static void quietly(String... argv) {
    try {
      Commands.run(List.of(argv), "", TIMEOUT);
    } catch (IOException e) {
      // best effort: the rest of the cleanup must still run
    }
  }

  /** Unmounts and deletes every file in {@code dir} (pins a test left behind), then nothing is mounted there. */
  static void unmountAllIn(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (var files = Files.list(dir)) {
      for (Path file : files.toList()) {
        Mounts.unmountAll(file);
        Files.deleteIfExists(file);
      }
    }
  }

  @Override
  public void close() {
    for (Process process : processes) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    while (!cleanups.isEmpty()) {
      cleanups.pop().run();
    }
  }
}
