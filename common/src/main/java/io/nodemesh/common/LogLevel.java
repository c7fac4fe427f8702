package io.nodemesh.common;

/** The root log level choices of {@code --log-level}. */
public enum LogLevel {
  TRACE,
  DEBUG,
  INFO,
  WARN,
  ERROR
}
