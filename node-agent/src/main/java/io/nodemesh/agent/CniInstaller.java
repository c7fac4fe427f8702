package io.nodemesh.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Installs the plugin executable into the node's CNI bin directory and chains it, as the last plugin, into the
 * configuration the container runtime uses: the first {@code .conflist}/{@code .conf}/{@code .json} file of the
 * conf directory in name order (libcni's and containerd's rule). A single-plugin {@code .conf} is turned into a
 * {@code .conflist}. Files are replaced by rename, so the runtime never reads half a file. Everything else in the
 * configuration is kept as it is.
 *
 * <p>Main CNIs (Calico, Cilium, ...) rewrite their configuration when they restart and drop our entry; the agent
 * calls {@link #install()} on every resync and on directory changes, so the entry comes back.
 */
public final class CniInstaller {

  public static final String PLUGIN_TYPE = "nodemesh-cni";
  /** Where the plugin script sits inside the jar (copied from {@code cni/} at build time). */
  public static final String PLUGIN_RESOURCE = "/io/nodemesh/agent/cni/nodemesh-cni";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final List<String> EXTENSIONS = List.of(".conflist", ".conf", ".json");

  /** What {@link #install()} did. */
  public enum Outcome { UNCHANGED, INSTALLED, NO_CONFIG_YET }

  private final Path binDir;
  private final Path confDir;
  private final ObjectNode entry;

  public CniInstaller(Path binDir, Path confDir, ObjectNode entry) {
    this.binDir = binDir;
    this.confDir = confDir;
    this.entry = entry;
  }

  /** The installer the settings describe. */
  public static CniInstaller of(AgentSettings settings) {
    return new CniInstaller(Path.of(settings.get(AgentSettings.CNI_BIN_DIR)),
        Path.of(settings.get(AgentSettings.CNI_CONF_DIR)), entry(settings));
  }

  /** The plugin's entry in the conflist: its knobs, from the agent's own flags so that both agree. */
  public static ObjectNode entry(AgentSettings settings) {
    ObjectNode entry = JSON.createObjectNode();
    entry.put("type", PLUGIN_TYPE);
    entry.put("name", "nodemesh");
    entry.put("pinDir", settings.pinDir().toString());
    entry.put("spoolDir", settings.get(AgentSettings.CNI_SPOOL_DIR));
    entry.put("timeoutSeconds", (int) settings.get(AgentSettings.CNI_TIMEOUT).toSeconds());
    entry.put("failPolicy", settings.get(AgentSettings.CNI_FAIL_POLICY).name().toLowerCase(Locale.ROOT));
    entry.put("excludeNamespaces", settings.get(AgentSettings.CNI_EXCLUDE_NAMESPACES));
    return entry;
  }

  public ObjectNode entry() {
    return entry.deepCopy();
  }

  /** The plugin executable as shipped in the jar. */
  public static byte[] pluginScript() throws IOException {
    try (InputStream in = CniInstaller.class.getResourceAsStream(PLUGIN_RESOURCE)) {
      if (in == null) {
        throw new IOException("the plugin script " + PLUGIN_RESOURCE + " is not in the jar");
      }
      return in.readAllBytes();
    }
  }

  public Path confDir() {
    return confDir;
  }

  public Path pluginPath() {
    return binDir.resolve(PLUGIN_TYPE);
  }

  /** Installs the executable (when it differs) and chains the entry into the primary configuration. */
  public Outcome install() throws IOException {
    boolean changed = installBinary();
    Optional<Path> primary = primary();
    if (primary.isEmpty()) {
      return Outcome.NO_CONFIG_YET;
    }
    changed |= installConfig(primary.get());
    return changed ? Outcome.INSTALLED : Outcome.UNCHANGED;
  }

  /** Whether the primary configuration holds exactly our entry, last, and the executable is current. */
  public boolean installed() {
    try {
      Optional<Path> primary = primary();
      if (primary.isEmpty() || !Files.isRegularFile(pluginPath())
          || !Arrays.equals(Files.readAllBytes(pluginPath()), pluginScript())) {
        return false;
      }
      JsonNode config = JSON.readTree(primary.get().toFile());
      JsonNode plugins = config.path("plugins");
      return plugins.isArray() && plugins.size() > 1 && plugins.get(plugins.size() - 1).equals(entry)
          && countOurs(plugins) == 1;
    } catch (IOException e) {
      return false;
    }
  }

  /** The configuration the runtime uses: the first CNI configuration file by name, if any. */
  public Optional<Path> primary() throws IOException {
    return configFiles().stream().findFirst();
  }

  /** Removes our entry from every configuration file, then the executable (in that order: no dangling entry). */
  public void uninstall() throws IOException {
    for (Path file : configFiles()) {
      JsonNode config;
      try {
        config = JSON.readTree(file.toFile());
      } catch (JsonProcessingException e) {
        continue; // not ours to judge
      }
      if (config.path("plugins").isArray() && countOurs(config.path("plugins")) > 0) {
        removeOurs((ArrayNode) config.path("plugins"));
        write(file, config);
      }
    }
    Files.deleteIfExists(pluginPath());
  }

  private boolean installBinary() throws IOException {
    byte[] script = pluginScript();
    Path target = pluginPath();
    if (Files.isRegularFile(target) && Arrays.equals(Files.readAllBytes(target), script)) {
      return false;
    }
    Files.createDirectories(binDir);
    // a rename replaces the file under a running plugin without disturbing it (it keeps the old inode)
    Path tmp = binDir.resolve("." + PLUGIN_TYPE + ".tmp");
    Files.write(tmp, script);
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return true;
  }

  private boolean installConfig(Path primary) throws IOException {
    JsonNode config = JSON.readTree(primary.toFile());
    if (!config.isObject()) {
      throw new IOException(primary + " is not a JSON object");
    }
    ObjectNode list;
    Path target = primary;
    if (config.has("plugins")) {
      if (!config.get("plugins").isArray()) {
        throw new IOException(primary + ": plugins is not an array");
      }
      list = (ObjectNode) config;
    } else {
      // a single-plugin .conf: the same network as a conflist with one plugin, plus ours
      list = JSON.createObjectNode();
      list.set("cniVersion", config.get("cniVersion"));
      list.set("name", config.get("name"));
      list.putArray("plugins").add(config);
      String name = primary.getFileName().toString();
      target = primary.resolveSibling(name.substring(0, name.lastIndexOf('.')) + ".conflist");
    }
    ArrayNode plugins = (ArrayNode) list.get("plugins");
    if (plugins.size() > 0 && plugins.get(plugins.size() - 1).equals(entry) && countOurs(plugins) == 1
        && target.equals(primary)) {
      return false;
    }
    removeOurs(plugins);
    if (plugins.isEmpty()) {
      throw new IOException(primary + " has no main plugin to chain after");
    }
    plugins.add(entry.deepCopy());
    write(target, list);
    if (!target.equals(primary)) {
      // the .conf would sort first and hide the new .conflist from the runtime
      Files.deleteIfExists(primary);
    }
    return true;
  }

  private List<Path> configFiles() throws IOException {
    List<Path> files = new ArrayList<>();
    if (!Files.isDirectory(confDir)) {
      return files;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(confDir)) {
      for (Path file : entries) {
        String name = file.getFileName().toString();
        if (!name.startsWith(".") && EXTENSIONS.stream().anyMatch(name::endsWith) && Files.isRegularFile(file)) {
          files.add(file);
        }
      }
    }
    files.sort(null);
    return files;
  }

  private static int countOurs(JsonNode plugins) {
    int count = 0;
    for (JsonNode plugin : plugins) {
      count += PLUGIN_TYPE.equals(plugin.path("type").asText()) ? 1 : 0;
    }
    return count;
  }

  private static void removeOurs(ArrayNode plugins) {
    for (Iterator<JsonNode> it = plugins.elements(); it.hasNext(); ) {
      if (PLUGIN_TYPE.equals(it.next().path("type").asText())) {
        it.remove();
      }
    }
  }

  private static void write(Path file, JsonNode config) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".nodemesh.tmp");
    Files.write(tmp, (JSON.writeValueAsString(config) + "\n").getBytes(StandardCharsets.UTF_8));
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
