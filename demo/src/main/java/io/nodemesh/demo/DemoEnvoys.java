package io.nodemesh.demo;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.nodemesh.testkit.SimulatedEnvoy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Envoy-like delta ADS client per demo node (the test kit's {@link SimulatedEnvoy}), over the real xDS port, so
 * a newcomer sees pushes, ACKs and SYNCED clients at {@code /debug/syncz} without installing Envoy.
 */
final class DemoEnvoys implements AutoCloseable {

  private final ManagedChannel channel;
  private final List<SimulatedEnvoy> envoys = new ArrayList<>();

  DemoEnvoys(int xdsPort, List<String> nodes) {
    this.channel = NettyChannelBuilder.forAddress("127.0.0.1", xdsPort).usePlaintext().build();
    for (String node : nodes) {
      envoys.add(SimulatedEnvoy.builder(channel, "demo-envoy-" + node, node).cluster("nodemesh-demo").lean(false)
          .connect());
    }
  }

  @Override
  public void close() {
    envoys.forEach(SimulatedEnvoy::close);
    channel.shutdown();
    try {
      channel.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
