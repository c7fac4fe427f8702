package io.nodemesh.e2e;

import io.nodemesh.testkit.SimulatedEnvoy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Convergence times measured by an IT class: from the API write (or event) a scenario caused to the moment
 * the client received it (a {@link SimulatedEnvoy} ACKs in the same call in which it receives, so receipt
 * is ACK time). Each measurement is printed at once as a {@code [convergence]} line; {@link #printSummary}
 * prints them all as a table at the end of the class.
 *
 * <p>Thread-safe.
 */
public final class ConvergenceLog {

  /** One measurement. */
  public record Measurement(String scenario, String what, long millis) {}

  private final String title;
  private final List<Measurement> measurements = new ArrayList<>();

  public ConvergenceLog(String title) {
    this.title = title;
  }

  /** Records {@code endNanos - startNanos} (both {@link System#nanoTime()}) and prints it; returns millis. */
  public synchronized long record(String scenario, String what, long startNanos, long endNanos) {
    long millis = TimeUnit.NANOSECONDS.toMillis(Math.max(0, endNanos - startNanos));
    measurements.add(new Measurement(scenario, what, millis));
    System.out.printf("[convergence] %s: %s: %d ms%n", scenario, what, millis);
    return millis;
  }

  /** Records a duration measured elsewhere (e.g. what the control plane reports about itself). */
  public synchronized long recordMillis(String scenario, String what, long millis) {
    measurements.add(new Measurement(scenario, what, millis));
    System.out.printf("[convergence] %s: %s: %d ms%n", scenario, what, millis);
    return millis;
  }

  /** Records the time from {@code startNanos} until now. */
  public long recordUntilNow(String scenario, String what, long startNanos) {
    return record(scenario, what, startNanos, System.nanoTime());
  }

  public synchronized List<Measurement> measurements() {
    return List.copyOf(measurements);
  }

  /** Prints every measurement of this log as a table. */
  public synchronized void printSummary() {
    int scenarioWidth = "scenario".length();
    int whatWidth = "change -> client received (ACKed)".length();
    for (Measurement m : measurements) {
      scenarioWidth = Math.max(scenarioWidth, m.scenario().length());
      whatWidth = Math.max(whatWidth, m.what().length());
    }
    String row = "[convergence] | %-" + scenarioWidth + "s | %-" + whatWidth + "s | %8s |%n";
    StringBuilder table = new StringBuilder();
    table.append(String.format("[convergence] %s: %d measurements%n", title, measurements.size()));
    table.append(String.format(row, "scenario", "change -> client received (ACKed)", "ms"));
    table.append(String.format(row, "-".repeat(scenarioWidth), "-".repeat(whatWidth), "-".repeat(8)));
    for (Measurement m : measurements) {
      table.append(String.format(row, m.scenario(), m.what(), m.millis()));
    }
    System.out.print(table);
  }
}
