package io.nodemesh.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The host directory through which the CNI plugin and the agent talk: {@code requests/<id>.req} (written by the
 * plugin with a rename, so a file is always complete), {@code responses/<id>} (written by the agent the same way),
 * {@code pods/<uid>} (the container ID that owns a pin) and {@code locks/} (the plugin's per-pod locks).
 *
 * <p>Files rather than a unix socket: the plugin is POSIX sh and a shell cannot talk to a socket without extra
 * tools; files also keep a request across an agent restart, which a connection would not.
 */
public final class Spool {

  /** A request file waiting for an answer. */
  public record Pending(String id, Path file, Instant written) {}

  private final Path root;

  public Spool(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  public Path requests() {
    return root.resolve("requests");
  }

  public Path responses() {
    return root.resolve("responses");
  }

  /** The owner record of a pin: the container ID of the sandbox whose namespace it holds. */
  public Path owner(String podUid) {
    return root.resolve("pods").resolve(podUid);
  }

  /**
   * The pod a pin belongs to, from the owner record the plugin writes at ADD (line 1 the container ID, line 2
   * {@code namespace/name}); empty when there is no record or it is not in that form.
   */
  public Optional<String[]> ownerPod(String podUid) {
    try {
      List<String> lines = Files.readAllLines(owner(podUid), StandardCharsets.UTF_8);
      if (lines.size() >= 2 && lines.get(1).matches("[a-z0-9][a-z0-9-]{0,62}/[a-z0-9][a-z0-9.-]{0,252}")) {
        return Optional.of(lines.get(1).split("/", 2));
      }
    } catch (IOException e) {
      // no record: a pin made before records had the pod, or by hand
    }
    return Optional.empty();
  }

  /** Creates the directories (mode 0700 as the plugin does); harmless when they exist. */
  public void create() throws IOException {
    for (String dir : List.of("requests", "responses", "pods", "locks")) {
      Files.createDirectories(root.resolve(dir));
    }
  }

  /** Request files in the order they were written; temporary files (dot files) are not requests yet. */
  public List<Pending> pending() throws IOException {
    List<Pending> pending = new ArrayList<>();
    if (!Files.isDirectory(requests())) {
      return pending;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(requests(), "*.req")) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        if (name.startsWith(".")) {
          continue;
        }
        try {
          FileTime written = Files.getLastModifiedTime(file);
          pending.add(new Pending(name.substring(0, name.length() - 4), file, written.toInstant()));
        } catch (NoSuchFileException e) {
          // withdrawn by the plugin (timeout) while we listed
        }
      }
    }
    pending.sort(Comparator.comparing(Pending::written).thenComparing(Pending::id));
    return pending;
  }

  /** The text of a request, or empty if the plugin withdrew it meanwhile. */
  public Optional<String> read(Pending request) throws IOException {
    try {
      if (Files.size(request.file()) > 8192) {
        return Optional.of(""); // not something the plugin wrote; parsing rejects it
      }
      return Optional.of(Files.readString(request.file(), StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /** Writes the answer (temporary file, then rename) and removes the request. */
  public void answer(String id, CniAnswer answer) throws IOException {
    Files.createDirectories(responses());
    Path tmp = responses().resolve("." + id + ".tmp");
    Files.writeString(tmp, answer.fileText(), StandardCharsets.UTF_8);
    Files.move(tmp, responses().resolve(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Files.deleteIfExists(requests().resolve(id + ".req"));
  }

  /** Deletes a request without answering it (malformed, or too old to matter). */
  public void discard(Pending request) throws IOException {
    Files.deleteIfExists(request.file());
  }

  /**
   * Removes answers nobody collected and requests nobody withdrew, older than {@code maxAge}: what a plugin
   * leaves behind when it timed out or was killed. Returns how many files were removed.
   */
  public int collectGarbage(Instant now, Duration maxAge) throws IOException {
    int removed = 0;
    for (Path dir : List.of(requests(), responses())) {
      if (!Files.isDirectory(dir)) {
        continue;
      }
      try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
        for (Path file : files) {
          try {
            if (Files.getLastModifiedTime(file).toInstant().isBefore(now.minus(maxAge))) {
              removed += Files.deleteIfExists(file) ? 1 : 0;
            }
          } catch (NoSuchFileException e) {
            // gone already
          }
        }
      }
    }
    return removed;
  }
}
