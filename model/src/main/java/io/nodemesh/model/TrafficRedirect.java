package io.nodemesh.model;

/**
 * Where the node agent's redirect rules and the translator's listeners meet: the port that captured outbound
 * traffic is sent to, and the socket mark that exempts Envoy's own upstream connections from the redirect.
 */
public final class TrafficRedirect {

  public static final int DEFAULT_SO_MARK = 1337;
  public static final int DEFAULT_CAPTURE_PORT = 15001;

  private TrafficRedirect() {}
}
