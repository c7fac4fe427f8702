/**
 * Log safety shared by every module: {@link io.nodemesh.log.SafeText} makes client- and object-supplied text
 * safe for one log line, {@link io.nodemesh.log.LogThrottle} rate-limits repeated warnings.
 */
package io.nodemesh.log;
