/**
 * The incremental stage between the cluster model and the resource store: translates only what a change
 * touched, reuses every other pod's last translation, and applies the result to the store in one batch.
 */
package io.nodemesh.pipeline;
