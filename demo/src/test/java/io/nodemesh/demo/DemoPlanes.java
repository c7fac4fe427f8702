package io.nodemesh.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Demos for tests: every port chosen free, returned once xDS serves. */
public final class DemoPlanes {

  private DemoPlanes() {}

  /** The demo on free admin, debug and xDS ports, plus {@code extraFlags}. */
  public static Demo start(String... extraFlags) throws Exception {
    List<String> args = new ArrayList<>(List.of("--admin-port=0", "--debug-port=0", "--xds-port=0"));
    args.addAll(List.of(extraFlags));
    Demo demo = Demo.start(Demo.settings(args.toArray(String[]::new), Map.of()));
    try {
      demo.xdsStarted().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      demo.close();
      throw e;
    }
    return demo;
  }
}
