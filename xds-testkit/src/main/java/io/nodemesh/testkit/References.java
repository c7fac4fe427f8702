package io.nodemesh.testkit;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a client subscribes to by name after receiving clusters and listeners, as Envoy does: the
 * ClusterLoadAssignment of every EDS cluster and the RouteConfiguration of every HttpConnectionManager with RDS.
 */
public final class References {

  private static final String HCM_TYPE_URL =
      "type.googleapis.com/" + HttpConnectionManager.getDescriptor().getFullName();

  private References() {}

  /** The EDS name of a cluster ({@code service_name}, else its own name), empty for non-EDS clusters. */
  public static Optional<String> endpointsOf(Cluster cluster) {
    if (cluster.getType() != Cluster.DiscoveryType.EDS) {
      return Optional.empty();
    }
    String service = cluster.getEdsClusterConfig().getServiceName();
    return Optional.of(service.isEmpty() ? cluster.getName() : service);
  }

  /** The RDS names a listener's HttpConnectionManagers use (filter chains, default chain and ApiListener). */
  public static void routesOf(Listener listener, Set<String> into) {
    if (listener.hasApiListener()) {
      rdsName(listener.getApiListener().getApiListener()).ifPresent(into::add);
    }
    List<FilterChain> chains = new ArrayList<>(listener.getFilterChainsList());
    if (listener.hasDefaultFilterChain()) {
      chains.add(listener.getDefaultFilterChain());
    }
    for (FilterChain chain : chains) {
      for (Filter filter : chain.getFiltersList()) {
        rdsName(filter.getTypedConfig()).ifPresent(into::add);
      }
    }
  }

  private static Optional<String> rdsName(Any config) {
    if (!config.getTypeUrl().equals(HCM_TYPE_URL)) {
      return Optional.empty();
    }
    try {
      // parseFrom, not Any.unpack: unpack finds the default instance by reflection on every call
      HttpConnectionManager hcm = HttpConnectionManager.parseFrom(config.getValue());
      return hcm.hasRds() ? Optional.of(hcm.getRds().getRouteConfigName()) : Optional.empty();
    } catch (InvalidProtocolBufferException e) {
      return Optional.empty();
    }
  }
}
