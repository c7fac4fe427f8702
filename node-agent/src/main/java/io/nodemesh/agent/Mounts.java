package io.nodemesh.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Mount points as this process sees them, and unmounting a pin (Java has no mount system calls). */
public final class Mounts {

  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private Mounts() {}

  /** Whether something is mounted at {@code path} (field 5 of /proc/self/mountinfo, octal escapes decoded). */
  public static boolean isMountPoint(Path path) throws IOException {
    String wanted = path.toAbsolutePath().normalize().toString();
    for (String line : Files.readAllLines(MOUNTINFO)) {
      String[] fields = line.split(" ");
      if (fields.length > 4 && unescape(fields[4]).equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  /** Unmounts everything stacked on {@code path} (lazily if it is busy); a path with no mount is left alone. */
  public static void unmountAll(Path path) throws IOException {
    for (int i = 0; i < 8 && isMountPoint(path); i++) {
      Commands.Result result = Commands.run(List.of("umount", path.toString()), "", Duration.ofSeconds(10));
      if (!result.ok()) {
        Commands.check(List.of("umount", "-l", path.toString()), "", Duration.ofSeconds(10));
      }
    }
    if (isMountPoint(path)) {
      throw new IOException("still mounted after unmounting: " + path);
    }
  }

  static String unescape(String field) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
