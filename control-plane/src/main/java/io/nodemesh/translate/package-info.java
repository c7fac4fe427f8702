/**
 * Pure functions from the cluster model to Envoy resources, one class per resource kind (ARCHITECTURE.md §5).
 * Nothing here keeps state or does I/O; the same input always gives byte-identical output, and a resource
 * name always denotes the same content whichever node asks for it.
 */
package io.nodemesh.translate;
