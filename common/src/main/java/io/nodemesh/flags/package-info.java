/**
 * Configuration knobs declared once (name, environment variable, default, description, parser), shared by the
 * control plane, the node agent and the command line; below every other package of the jar.
 */
package io.nodemesh.flags;
