package io.nodemesh.model;

import java.util.regex.Pattern;

/**
 * Resolves and validates a pod's network namespace path. Security-critical: Envoy enters whatever path it
 * is given, so only plain absolute paths made of a small character set, without {@code .} or {@code ..}
 * segments, under the allowed location, are ever accepted.
 */
public final class NetnsPaths {

  public static final String POD_UID_PLACEHOLDER = "{podUid}";
  public static final String ANNOTATION = "nodemesh.io/netns";
  /** Linux PATH_MAX is 4096; namespace pins are short, and a short bound keeps hostile input cheap. */
  public static final int MAX_LENGTH = 256;

  private static final Pattern SAFE_PATH = Pattern.compile("/[A-Za-z0-9._/-]*");
  private static final Pattern UID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]{0,62}");

  private NetnsPaths() {}

  /** The validated path, or a {@link MeshStatus#notMeshed} reason saying why there is none. */
  public static MeshStatus resolve(PodInfo pod, MeshOptions options) {
    return switch (options.netnsMode()) {
      case TEMPLATE -> fromTemplate(pod, options);
      case ANNOTATION -> fromAnnotation(pod, options);
    };
  }

  private static MeshStatus fromTemplate(PodInfo pod, MeshOptions options) {
    if (!UID.matcher(pod.uid()).matches()) {
      return MeshStatus.notMeshed("pod UID is empty or not a UID, cannot build netns path");
    }
    String path = options.netnsTemplate().replace(POD_UID_PLACEHOLDER, pod.uid());
    String problem = pathProblem(path);
    return problem == null ? MeshStatus.meshed(path) : MeshStatus.notMeshed("netns template gives " + problem);
  }

  private static MeshStatus fromAnnotation(PodInfo pod, MeshOptions options) {
    String path = pod.annotations().get(ANNOTATION);
    if (path == null || path.isEmpty()) {
      return MeshStatus.notMeshed("no " + ANNOTATION + " annotation (netns mode ANNOTATION)");
    }
    String problem = pathProblem(path);
    if (problem != null) {
      return MeshStatus.notMeshed(ANNOTATION + " rejected: " + problem);
    }
    String prefix = options.netnsAllowedPrefix();
    if (!path.startsWith(prefix) || path.length() == prefix.length()) {
      return MeshStatus.notMeshed(ANNOTATION + " rejected: not under the allowed prefix " + prefix);
    }
    return MeshStatus.meshed(path);
  }

  /** Why a path is unacceptable, or null when it is a plain normalized absolute path. */
  static String pathProblem(String path) {
    if (path.length() > MAX_LENGTH) {
      return "path longer than " + MAX_LENGTH + " characters";
    }
    if (!SAFE_PATH.matcher(path).matches()) {
      return "path must be absolute and use only [A-Za-z0-9._/-]";
    }
    if (path.endsWith("/")) {
      return "path names a directory";
    }
    for (String segment : path.substring(1).split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return "path is not normalized (empty, '.' or '..' segment)";
      }
    }
    return null;
  }
}
