/**
 * Who may receive which node's configuration, and how the xDS port is protected (issue 9): node
 * authorization by peer address and by Kubernetes bound service-account tokens (TokenReview), TLS for the
 * xDS port with certificates reloaded from mounted files, and Kubernetes Events for resources a node's
 * Envoy rejected (NACK isolation).
 *
 * <p>The xDS layer ({@link io.nodemesh.xds}) only knows the {@link io.nodemesh.xds.ClientAuthorizer}
 * interface; this package implements it against the cluster model and the Kubernetes API.
 */
package io.nodemesh.security;
