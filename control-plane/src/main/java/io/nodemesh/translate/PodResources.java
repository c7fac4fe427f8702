package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.nodemesh.model.ObjectKey;

/**
 * What one meshed pod contributes to its node: its listener, its own clusters (per-pod mode), the shared
 * service ports it calls (whose clusters/endpoints/routes the node needs) and problems found on the way.
 */
public record PodResources(
    ObjectKey pod,
    Listener listener,
    ImmutableSortedMap<String, Cluster> podClusters,
    ImmutableList<OutboundService> scope,
    ImmutableList<String> problems) {}
