package io.nodemesh.translate;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.BindConfig;
import io.envoyproxy.envoy.config.core.v3.EnvoyInternalAddress;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport;
import io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.nodemesh.model.PodInfo;
import java.time.Duration;

/** Builds clusters: shared per service port, per (pod, service port), passthrough and blackhole (ARCHITECTURE.md §5). */
public final class ClusterTranslator {

  static final String HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  /**
   * Envoy's default circuit breakers (1024 connections/requests per cluster) are sized for one sidecar; a
   * node-level Envoy carries every pod of the node through one cluster, so the limits are lifted.
   */
  private static final int UNLIMITED = Integer.MAX_VALUE;

  private ClusterTranslator() {}

  /** {@code svc/{ns}/{svc}/{port}}: one EDS cluster per service port, shared by every pod and node. */
  public static Cluster sharedServiceCluster(OutboundService outbound, TranslatorOptions options) {
    return serviceCluster(outbound.sharedName(), outbound, UpstreamBindings.shared(options), options).build();
  }

  /**
   * {@code svc/{ns}/{svc}/{port}{suffix}}: the shared cluster of a trafficDistribution variant, EDS over the
   * variant's assignment (same name; named explicitly so the dependency reads in the config).
   */
  public static Cluster variantServiceCluster(OutboundService outbound, String suffix, TranslatorOptions options) {
    String name = ResourceNames.variant(outbound.sharedName(), suffix);
    return serviceCluster(name, outbound, UpstreamBindings.shared(options), options)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder()
            .setEdsConfig(EnvoyBuilders.ads())
            .setServiceName(name))
        .build();
  }

  /** {@code pod/{ns}/{pod}/svc/...}: a pod's own cluster for a service port, EDS from the shared CLA. */
  public static Cluster perPodServiceCluster(
      PodInfo pod, String netnsPath, OutboundService outbound, TranslatorOptions options) {
    String name = ResourceNames.perPodServiceCluster(pod.key(), outbound.service().key(), outbound.port().port());
    return serviceCluster(name, outbound, UpstreamBindings.perPod(pod, netnsPath, options), options)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder()
            .setEdsConfig(EnvoyBuilders.ads())
            .setServiceName(outbound.sharedName()))
        .build();
  }

  /**
   * {@code dst/{clusterIp}/{port}} of a TCP port: an EDS cluster over the shared endpoints that a pod listener's
   * service chain reaches by original destination, leaving from the pod's netns via filter state. One per
   * ClusterIP (a dual-stack service has two), shared by every pod and node.
   */
  public static Cluster destinationServiceCluster(OutboundService outbound, String clusterIp, TranslatorOptions options) {
    return destinationServiceCluster(outbound, clusterIp, "", options);
  }

  /** {@link #destinationServiceCluster} of a variant: {@code suffix} on its name and on its EDS service name. */
  public static Cluster destinationServiceCluster(
      OutboundService outbound, String clusterIp, String suffix, TranslatorOptions options) {
    return serviceCluster(
        ResourceNames.variant(ResourceNames.destinationCluster(clusterIp, outbound.port().port()), suffix), outbound,
        UpstreamBindings.shared(options), options)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder()
            .setEdsConfig(EnvoyBuilders.ads())
            .setServiceName(ResourceNames.variant(outbound.sharedName(), suffix)))
        .build();
  }

  /**
   * {@code dst/{clusterIp}/{port}} of an HTTP port: the hop into the port's internal listener. The
   * internal_upstream transport socket is what carries the connection's shared filter state (the pod's netns)
   * across; without it nothing crosses (Envoy source/extensions/transport_sockets/internal_upstream).
   */
  public static Cluster destinationInternalCluster(
      OutboundService outbound, String clusterIp, TranslatorOptions options) {
    return destinationInternalCluster(outbound, clusterIp, "", options);
  }

  /** {@link #destinationInternalCluster} of a variant: into the variant's internal listener. */
  public static Cluster destinationInternalCluster(
      OutboundService outbound, String clusterIp, String suffix, TranslatorOptions options) {
    String name = ResourceNames.variant(ResourceNames.destinationCluster(clusterIp, outbound.port().port()), suffix);
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.STATIC)
        .setConnectTimeout(EnvoyBuilders.duration(options.connectTimeout()))
        .setCircuitBreakers(unlimitedCircuitBreakers())
        .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
        .setLoadAssignment(ClusterLoadAssignment.newBuilder()
            .setClusterName(name)
            .addEndpoints(LocalityLbEndpoints.newBuilder()
                .addLbEndpoints(LbEndpoint.newBuilder()
                    .setEndpoint(Endpoint.newBuilder()
                        .setAddress(Address.newBuilder()
                            .setEnvoyInternalAddress(EnvoyInternalAddress.newBuilder()
                                .setServerListenerName(ResourceNames.variant(outbound.sharedName(), suffix))))))))
        .setTransportSocket(TransportSocket.newBuilder()
            .setName(EnvoyBuilders.INTERNAL_UPSTREAM_TRANSPORT_SOCKET)
            .setTypedConfig(Any.pack(InternalUpstreamTransport.newBuilder()
                .setTransportSocket(TransportSocket.newBuilder()
                    .setName(EnvoyBuilders.RAW_BUFFER_TRANSPORT_SOCKET)
                    .setTypedConfig(Any.pack(RawBuffer.getDefaultInstance())))
                .build())))
        .build();
  }

  /** The shared passthrough cluster: original destination, leaving from the pod netns via filter state. */
  public static Cluster sharedPassthrough(TranslatorOptions options) {
    return passthrough(ResourceNames.PASSTHROUGH, UpstreamBindings.shared(options), options);
  }

  /** A pod's own passthrough cluster (per-pod mode). */
  public static Cluster perPodPassthrough(PodInfo pod, String netnsPath, TranslatorOptions options) {
    return passthrough(
        ResourceNames.passthroughCluster(pod, UpstreamBinding.PER_POD),
        UpstreamBindings.perPod(pod, netnsPath, options),
        options);
  }

  /** Where the loop guard sends connections aimed at the capture port itself: a cluster with no hosts. */
  public static Cluster blackhole(TranslatorOptions options) {
    return Cluster.newBuilder()
        .setName(ResourceNames.BLACKHOLE)
        .setType(Cluster.DiscoveryType.STATIC)
        .setConnectTimeout(EnvoyBuilders.duration(options.connectTimeout()))
        .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
        .build();
  }

  private static Cluster.Builder serviceCluster(
      String name, OutboundService outbound, BindConfig bind, TranslatorOptions options) {
    Cluster.Builder cluster =
        Cluster.newBuilder()
            .setName(name)
            .setType(Cluster.DiscoveryType.EDS)
            .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(EnvoyBuilders.ads()))
            .setConnectTimeout(EnvoyBuilders.duration(options.connectTimeout()))
            .setLbPolicy(outbound.protocol().http() ? Cluster.LbPolicy.LEAST_REQUEST : Cluster.LbPolicy.ROUND_ROBIN)
            .setOutlierDetection(outlierDetection())
            .setCircuitBreakers(unlimitedCircuitBreakers())
            .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
            .setUpstreamBindConfig(bind);
    if (outbound.protocol() == PortProtocol.HTTP2) {
      cluster.putTypedExtensionProtocolOptions(HTTP_PROTOCOL_OPTIONS_KEY, Any.pack(http2ProtocolOptions()));
    }
    return cluster;
  }

  private static Cluster passthrough(String name, BindConfig bind, TranslatorOptions options) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.ORIGINAL_DST)
        .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED)
        .setConnectTimeout(EnvoyBuilders.duration(options.connectTimeout()))
        .setCircuitBreakers(unlimitedCircuitBreakers())
        .setPerConnectionBufferLimitBytes(EnvoyBuilders.uint32(options.bufferLimitBytes()))
        .setUpstreamBindConfig(bind)
        .build();
  }

  private static HttpProtocolOptions http2ProtocolOptions() {
    return HttpProtocolOptions.newBuilder()
        .setExplicitHttpConfig(HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance()))
        .build();
  }

  /** Ejects hosts that keep failing (5xx for HTTP, connect failures for TCP), at most half of them. */
  private static OutlierDetection outlierDetection() {
    return OutlierDetection.newBuilder()
        .setConsecutive5Xx(EnvoyBuilders.uint32(5))
        .setConsecutiveGatewayFailure(EnvoyBuilders.uint32(5))
        .setEnforcingConsecutiveGatewayFailure(EnvoyBuilders.uint32(100))
        .setInterval(EnvoyBuilders.duration(Duration.ofSeconds(10)))
        .setBaseEjectionTime(EnvoyBuilders.duration(Duration.ofSeconds(30)))
        .setMaxEjectionPercent(EnvoyBuilders.uint32(50))
        .build();
  }

  private static CircuitBreakers unlimitedCircuitBreakers() {
    return CircuitBreakers.newBuilder()
        .addThresholds(CircuitBreakers.Thresholds.newBuilder()
            .setPriority(RoutingPriority.DEFAULT)
            .setMaxConnections(EnvoyBuilders.uint32(UNLIMITED))
            .setMaxPendingRequests(EnvoyBuilders.uint32(UNLIMITED))
            .setMaxRequests(EnvoyBuilders.uint32(UNLIMITED))
            .setMaxRetries(EnvoyBuilders.uint32(UNLIMITED)))
        .build();
  }
}
