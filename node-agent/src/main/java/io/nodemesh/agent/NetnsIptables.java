package io.nodemesh.agent;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * iptables inside a pod's network namespace, entered through its pin with {@code nsenter --net=<pin>}: no
 * process of the pod and no host PID namespace is needed, only the bind-mounted namespace file.
 */
public interface NetnsIptables {

  /** {@code iptables-save -t nat} inside the namespace. */
  String saveNat(Path pin) throws IOException;

  /** {@code iptables-restore --noflush} of {@code payload} inside the namespace (one atomic transaction). */
  void restore(Path pin, String payload) throws IOException;

  /** The real thing, via {@code nsenter} and the iptables in the agent's image. */
  static NetnsIptables nsenter() {
    Duration timeout = Duration.ofSeconds(10);
    return new NetnsIptables() {
      @Override
      public String saveNat(Path pin) throws IOException {
        return Commands.check(List.of("nsenter", "--net=" + pin, "--", "iptables-save", "-t", "nat"), "", timeout);
      }

      @Override
      public void restore(Path pin, String payload) throws IOException {
        // -w: wait for the xtables lock instead of failing when another iptables runs in the same namespace
        Commands.check(List.of("nsenter", "--net=" + pin, "--", "iptables-restore", "-w", "--noflush"), payload,
            timeout);
      }
    };
  }
}
