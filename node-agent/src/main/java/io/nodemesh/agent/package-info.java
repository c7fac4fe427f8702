/**
 * The node agent ({@code nodemesh-node-agent.jar}) and its side of the chained CNI plugin: spool handshake
 * ({@link io.nodemesh.agent.Spool}), the mesh decision shared with the control plane, the redirect rules inside
 * pod network namespaces ({@link io.nodemesh.agent.RedirectRules}), reconcile and garbage collection
 * ({@link io.nodemesh.agent.NodeAgent}), and installing the plugin into the node's CNI configuration
 * ({@link io.nodemesh.agent.CniInstaller}). See docs/NODE_AGENT.md.
 */
package io.nodemesh.agent;
