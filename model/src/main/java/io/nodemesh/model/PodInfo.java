package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.Objects;
import java.util.Optional;

/**
 * A pod as the mesh sees it: identity, placement, IPs, lifecycle, labels and annotations, and the mesh
 * decision ({@link #mesh()}) that {@link ClusterState} computes from it, its namespace and the options.
 */
public record PodInfo(
    String uid,
    String namespace,
    String name,
    Optional<String> nodeName,
    ImmutableList<String> ips,
    PodPhase phase,
    boolean hostNetwork,
    boolean terminating,
    ImmutableSortedMap<String, String> labels,
    ImmutableSortedMap<String, String> annotations,
    MeshStatus mesh) {

  public PodInfo {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    uid = uid == null ? "" : uid;
    nodeName = nodeName == null ? Optional.empty() : nodeName;
    ips = ips == null ? ImmutableList.of() : ips;
    phase = phase == null ? PodPhase.UNKNOWN : phase;
    labels = labels == null ? ImmutableSortedMap.of() : labels;
    annotations = annotations == null ? ImmutableSortedMap.of() : annotations;
    mesh = mesh == null ? MeshStatus.UNEVALUATED : mesh;
  }

  public ObjectKey key() {
    return new ObjectKey(namespace, name);
  }

  public PodInfo withMesh(MeshStatus status) {
    return new PodInfo(uid, namespace, name, nodeName, ips, phase, hostNetwork, terminating, labels, annotations, status);
  }

  public PodInfo withIps(ImmutableList<String> newIps) {
    return new PodInfo(uid, namespace, name, nodeName, newIps, phase, hostNetwork, terminating, labels, annotations, mesh);
  }
}
