package io.nodemesh.helm;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs real Helm (helm-java's bundled native Helm library, no binary on the PATH) against {@code helm/nodemesh}.
 *
 * <p>The release name, namespace and Kubernetes version are fixed so that renders are comparable across
 * machines and Helm's defaults.
 */
final class HelmChart {

  static final String RELEASE = "nodemesh";
  static final String NAMESPACE = "nodemesh-system";
  static final String KUBE_VERSION = "1.31.0";

  private static final Path CHART = Paths.get(System.getProperty("chart.dir", "../helm/nodemesh")).normalize();
  private static final Path VALUES_DIR = Paths.get("src", "test", "resources", "values");

  private final List<Path> valuesFiles = new ArrayList<>();
  private final Map<String, Object> sets = new LinkedHashMap<>();

  private HelmChart() {}

  /** A render of the chart with its default values, to be refined with {@link #values} and {@link #set}. */
  static HelmChart template() {
    return new HelmChart();
  }

  /** Runs {@code helm lint --strict} on the chart with its default values. */
  static LintResult lint() {
    return new Helm(CHART).lint().strict().call();
  }

  /** Adds {@code src/test/resources/values/<name>.yaml} as a {@code -f} values file. */
  HelmChart values(String name) {
    Path file = VALUES_DIR.resolve(name + ".yaml");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no values file " + file.toAbsolutePath());
    }
    valuesFiles.add(file);
    return this;
  }

  /** Adds a {@code --set key=value}. */
  HelmChart set(String key, Object value) {
    sets.put(key, value);
    return this;
  }

  /** The rendered multi-document YAML, exactly as {@code helm template} prints it. */
  String renderText() {
    TemplateCommand command =
        new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE).withKubeVersion(KUBE_VERSION);
    valuesFiles.forEach(command::withValuesFile);
    sets.forEach(command::set);
    return command.call();
  }

  /** The rendered manifests, parsed into typed fabric8 objects. */
  Manifests render() {
    return Manifests.parse(renderText());
  }

  /** What {@code helm install --dry-run=client} prints, including the rendered NOTES.txt. */
  String installDryRunOutput() {
    InstallCommand command = new Helm(CHART).install()
        .withName(RELEASE).withNamespace(NAMESPACE).withKubeVersion(KUBE_VERSION)
        .withDryRunOption(DryRun.CLIENT).clientOnly();
    valuesFiles.forEach(command::withValuesFile);
    sets.forEach(command::set);
    return command.call().getOutput();
  }

  /** The message {@code helm template} fails with; fails the test if rendering succeeds. */
  String renderError() {
    try {
      renderText();
    } catch (RuntimeException e) {
      return String.valueOf(e.getMessage());
    }
    throw new AssertionError("helm template succeeded, expected it to fail (values " + valuesFiles + ", sets " + sets + ")");
  }
}
