package io.nodemesh.agent;



/** Whether the agent removes the plugin, the rules and the pins when it stops. */
public enum UninstallMode {
  /** Only when its DaemonSet is gone or being deleted (helm uninstall, agent disabled); never on a restart. */
  AUTO,
  /** On every stop (for manual cleanup and tests). */
  ALWAYS,
  /** Never; the plugin keeps waiting for the next agent. */
  NEVER
}
