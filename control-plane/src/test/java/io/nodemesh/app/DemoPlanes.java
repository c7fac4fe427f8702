package io.nodemesh.app;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Demo control planes for tests: every port chosen free, returned once xDS serves. */
public final class DemoPlanes {

  private DemoPlanes() {}

  /** {@code --demo} on free admin, debug and xDS ports, plus {@code extraFlags}. */
  public static ControlPlane start(String... extraFlags) throws Exception {
    List<String> args = new ArrayList<>(List.of("--demo", "--admin-port=0", "--debug-port=0", "--xds-port=0"));
    args.addAll(List.of(extraFlags));
    ControlPlane plane = ControlPlane.start(Settings.parse(args.toArray(String[]::new), Map.of()));
    plane.xdsStarted().get(60, TimeUnit.SECONDS);
    return plane;
  }
}
