package io.nodemesh.agent;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A stand-in for Envoy (on the capture port) and for upstream servers, run inside a test network namespace with
 * {@code ip netns exec}: {@code TcpTagServer 15001=envoy 80=direct} answers every connection on each port with
 * one line {@code "<tag> <port>"}, so a client sees where its connection really landed. Prints {@code ready} once
 * every port is bound and exits when its stdin closes (the test, or the test JVM, went away).
 */
public final class TcpTagServer {

  private TcpTagServer() {}

  public static void main(String[] args) throws IOException {
    for (String arg : args) {
      String[] portAndTag = arg.split("=", 2);
      int port = Integer.parseInt(portAndTag[0]);
      String line = portAndTag[1] + " " + port + "\n";
      ServerSocket server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress("0.0.0.0", port), 50);
      Thread thread = new Thread(() -> serve(server, line), "tag-" + port);
      thread.setDaemon(true);
      thread.start();
    }
    System.out.println("ready");
    System.out.flush();
    while (System.in.read() >= 0) {
      // wait for EOF
    }
  }

  private static void serve(ServerSocket server, String line) {
    while (true) {
      try (Socket socket = server.accept(); OutputStream out = socket.getOutputStream()) {
        out.write(line.getBytes(StandardCharsets.US_ASCII));
      } catch (IOException e) {
        // one client's trouble is not the server's
      }
    }
  }
}
