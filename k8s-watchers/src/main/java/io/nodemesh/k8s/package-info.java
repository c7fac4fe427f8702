/**
 * fabric8 informers that keep the cluster model current: pure converters from Kubernetes objects to
 * {@link io.nodemesh.model} records, a single-writer {@link io.nodemesh.k8s.ClusterStateStore} that publishes
 * immutable snapshots with a {@link io.nodemesh.k8s.Change} describing what moved, and a
 * {@link io.nodemesh.k8s.Debouncer} that merges changes into batches.
 *
 * <p>Wiring: {@code KubernetesWatchers.start(client, store, options)} feeds the store; {@code
 * store.subscribe(debouncer)} and {@code debouncer.subscribe(translator)} carry batches downstream.
 */
package io.nodemesh.k8s;
