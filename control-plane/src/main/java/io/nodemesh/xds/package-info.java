/**
 * The ADS server and its resource store.
 *
 * <p>{@link io.nodemesh.xds.ResourceStore} holds every resource once, keyed by (type, name), with a
 * content-hash version and its wire form serialised once; per-node views name each node's wildcard LDS and
 * CDS resources. {@link io.nodemesh.xds.XdsServer} serves it over SotW and delta ADS: each stream diffs
 * what its client holds against the current snapshot and sends only the difference, in make-before-break
 * order, respecting HTTP/2 flow control.
 *
 * <p>Threading: the store mutates in one {@code SynchronizationContext}; each stream runs on its own
 * sequential executor over a small shared pool; everything crossing between them is immutable (snapshots,
 * subscriptions, published status) or an atomic bit set (pending types).
 */
package io.nodemesh.xds;
