package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The chart installs exactly the image {@code images/build} produces (issue 17): the repository declared in
 * {@code images/image.env}, tagged with the chart's appVersion, for the control plane and the node agent, and the
 * user the image runs as is the one the chart's security contexts name. A rename on either side fails here.
 */
class ImageDefaultsTest {

  private static final Path ROOT = Paths.get("..").toAbsolutePath().normalize();

  private final Manifests defaults = HelmChart.template().render();

  @Test
  void theChartsDefaultImagesAreWhatTheImageBuildProduces() throws IOException {
    String built = declared("images/image.env", "NODEMESH_IMAGE_REPOSITORY=") + ":" + appVersion();

    Deployment controlPlane = defaults.named(Deployment.class, "nodemesh-control-plane");
    assertThat(controlPlane.getSpec().getTemplate().getSpec().getContainers()).extracting(Container::getImage)
        .containsOnly(built);
    DaemonSet agent = defaults.named(DaemonSet.class, "nodemesh-node-agent");
    assertThat(agent.getSpec().getTemplate().getSpec().getContainers()).extracting(Container::getImage)
        .containsOnly(built);
    assertThat(agent.getSpec().getTemplate().getSpec().getInitContainers()).extracting(Container::getImage)
        .containsOnly(built);
  }

  @Test
  void theImagesUserIsTheOneTheControlPlanesSecurityContextNames() throws IOException {
    String user = declared("images/Containerfile", "USER ");
    Long runAsUser = defaults.named(Deployment.class, "nodemesh-control-plane").getSpec().getTemplate().getSpec()
        .getSecurityContext().getRunAsUser();

    assertThat(user).isEqualTo(runAsUser + ":" + runAsUser);
  }

  private static String appVersion() throws IOException {
    return declared("helm/nodemesh/Chart.yaml", "appVersion: ").replace("\"", "");
  }

  private static String declared(String file, String prefix) throws IOException {
    List<String> lines = Files.readAllLines(ROOT.resolve(file));
    return lines.stream().filter(line -> line.startsWith(prefix)).map(line -> line.substring(prefix.length()).strip())
        .findFirst().orElseThrow(() -> new AssertionError(file + " declares no " + prefix.strip()));
  }
}
