/**
 * The operator's command line in the control plane's jar ({@code status}, {@code config}): reads a running control
 * plane's debug port, like {@code istioctl proxy-status} and {@code proxy-config} read istiod and Envoy.
 */
package io.nodemesh.cli;
