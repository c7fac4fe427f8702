/**
 * The immutable cluster model: what the control plane knows about nodes, namespaces, pods, services and
 * endpoints. Plain records and Guava immutable collections; nothing here knows fabric8 or Envoy.
 */
package io.nodemesh.model;
