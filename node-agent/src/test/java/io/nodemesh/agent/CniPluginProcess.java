package io.nodemesh.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the CNI plugin exactly as a container runtime does: a fresh process with only the CNI environment
 * variables (and PATH) and the network configuration on stdin. The script is the copy packaged in the jar.
 */
final class CniPluginProcess {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String POD_UID = "0b7c6a3e-1d2f-4e5a-9b8c-7d6e5f4a3b2c";

  /** A finished plugin run. */
  record Result(int exitCode, String stdout, String stderr, Duration took) {
    JsonNode json() {
      try {
        return JSON.readTree(stdout);
      } catch (IOException e) {
        throw new AssertionError("plugin output is not JSON: '" + stdout + "' (stderr: " + stderr + ")", e);
      }
    }

    @Override
    public String toString() {
      return "exit " + exitCode + ", stdout: " + stdout.strip() + ", stderr: " + stderr.strip();
    }
  }

  private final Map<String, String> env = new LinkedHashMap<>();
  private ObjectNode config;
  private String shell = "sh";
  private Path workingDirectory;

  private CniPluginProcess(String command) {
    env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", "c0ffee0123456789");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    config = JSON.createObjectNode();
  }

  /** A run of {@code command} for pod shop/web-1 with UID {@link #POD_UID}. */
  static CniPluginProcess command(String command) {
    CniPluginProcess run = new CniPluginProcess(command);
    run.pod("shop", "web-1", POD_UID);
    return run;
  }

  static Path script() {
    try {
      return Path.of(CniPluginProcess.class.getResource(CniInstaller.PLUGIN_RESOURCE).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The netconf a runtime passes for a conflist entry: cniVersion, name, the entry's fields, prevResult. */
  static ObjectNode netconf(Path pinDir, Path spoolDir, String prevResultIp) {
    ObjectNode netconf = JSON.createObjectNode();
    netconf.put("cniVersion", "1.0.0");
    netconf.put("name", "k8s-pod-network");
    netconf.put("type", "nodemesh-cni");
    netconf.put("pinDir", pinDir.toString());
    netconf.put("spoolDir", spoolDir.toString());
    netconf.put("timeoutSeconds", 10);
    netconf.put("failPolicy", "closed");
    netconf.put("excludeNamespaces", "kube-system");
    netconf.set("prevResult", prevResult(prevResultIp));
    return netconf;
  }

  static ObjectNode prevResult(String ip) {
    try {
      return (ObjectNode) JSON.readTree("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":"
          + "\"0a:58:0a:f4:00:05\",\"sandbox\":\"/var/run/netns/x\"}],\"ips\":[{\"address\":\"" + ip + "/24\","
          + "\"gateway\":\"10.244.0.1\",\"interface\":0}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
          + "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"search\":[\"svc.cluster.local\",\"{odd} \\\"name\\\"\"]}}");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  CniPluginProcess config(ObjectNode config) {
    this.config = config.deepCopy();
    return this;
  }

  CniPluginProcess set(String field, Object value) {
    config.set(field, JSON.valueToTree(value));
    return this;
  }

  CniPluginProcess env(String name, String value) {
    if (value == null) {
      env.remove(name);
    } else {
      env.put(name, value);
    }
    return this;
  }

  CniPluginProcess pod(String namespace, String name, String uid) {
    return env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + namespace + ";K8S_POD_NAME=" + name
        + ";K8S_POD_INFRA_CONTAINER_ID=c0ffee0123456789;K8S_POD_UID=" + uid);
  }

  CniPluginProcess shell(String shell) {
    this.shell = shell;
    return this;
  }

  /** Runs the plugin in {@code directory} (a runtime's working directory is not ours to choose). */
  CniPluginProcess workingDirectory(Path directory) {
    this.workingDirectory = directory;
    return this;
  }

  Result run() {
    return runWithStdin(config.toString());
  }

  Result runWithStdin(String stdin) {
    long start = System.nanoTime();
    try {
      ProcessBuilder builder = new ProcessBuilder(List.of(shell, script().toString()));
      builder.environment().clear();
      builder.environment().putAll(env);
      if (workingDirectory != null) {
        builder.directory(workingDirectory.toFile());
      }
      Process process = builder.start();
      var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
      var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(process.getErrorStream()));
      try (var in = process.getOutputStream()) {
        in.write(stdin.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      } catch (IOException e) {
        // the plugin answered without reading its input (VERSION, early errors), as it may
      }
      if (!process.waitFor(90, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError("plugin did not finish within 90 s");
      }
      return new Result(process.exitValue(), out.get(), err.get(), Duration.ofNanos(System.nanoTime() - start));
    } catch (Exception e) {
      throw new IllegalStateException("running the plugin failed", e);
    }
  }

  private static String read(java.io.InputStream stream) {
    try (stream) {
      return new String(stream.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
