/**
 * What the control plane and the node agent share and nothing else: the knobs both have and the log level
 * choice. Both import it; it imports neither.
 */
package io.nodemesh.common;
