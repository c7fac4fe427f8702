package io.nodemesh.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Named measurements of one run (one control plane), in the order they were taken, and the report table. */
final class Results {

  /** One measurement; NaN when not measured. {@code target}: the ARCHITECTURE.md §10 limit, or NaN. */
  record Metric(String key, String label, double value, String unit, double target, String note) {}

  final String name;
  private final Map<String, Metric> metrics = new LinkedHashMap<>();

  Results(String name) {
    this.name = name;
  }

  void put(String key, String label, double value, String unit) {
    put(key, label, value, unit, Double.NaN, "");
  }

  void put(String key, String label, double value, String unit, double target, String note) {
    metrics.put(key, new Metric(key, label, value, unit, target, note));
  }

  Metric get(String key) {
    return metrics.get(key);
  }

  Collection<Metric> all() {
    return metrics.values();
  }

  /** Nearest-rank percentile of values (any unit); NaN for none. */
  static double percentile(Collection<? extends Number> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> sorted = new ArrayList<>(values.size());
    values.forEach(v -> sorted.add(v.doubleValue()));
    sorted.sort(Double::compare);
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  static double max(Collection<? extends Number> values) {
    return values.stream().mapToDouble(Number::doubleValue).max().orElse(Double.NaN);
  }

  static double mean(Collection<? extends Number> values) {
    return values.stream().mapToDouble(Number::doubleValue).average().orElse(Double.NaN);
  }

  static String format(double value, String unit) {
    if (Double.isNaN(value)) {
      return "-";
    }
    String number;
    double abs = Math.abs(value);
    if (abs >= 100 || value == Math.rint(value) && abs < 1e15) {
      number = String.format(Locale.ROOT, "%,.0f", value);
    } else if (abs >= 10) {
      number = String.format(Locale.ROOT, "%.1f", value);
    } else {
      number = String.format(Locale.ROOT, "%.2f", value);
    }
    return unit.isEmpty() ? number : number + " " + unit;
  }

  /**
   * The report table: one row per metric of the first run, a column per run, the ratio of the run named
   * {@code reference} to the first (how many times more the reference needs; only when the reference ran and
   * is not the first), the target and whether the first run meets it.
   */
  static String table(List<Results> runs, String reference) {
    Results first = runs.get(0);
    Results compared = runs.stream().skip(1).filter(r -> r.name.equals(reference)).findFirst().orElse(null);
    StringBuilder out = new StringBuilder();
    out.append("| metric |");
    runs.forEach(r -> out.append(' ').append(r.name).append(" |"));
    if (compared != null) {
      out.append(" ratio ").append(compared.name).append('/').append(first.name).append(" |");
    }
    out.append(" target |\n|---|");
    runs.forEach(r -> out.append("---:|"));
    if (compared != null) {
      out.append("---:|");
    }
    out.append("---|\n");
    for (Metric metric : first.all()) {
      out.append("| ").append(metric.label()).append(" |");
      for (Results run : runs) {
        Metric m = run.get(metric.key());
        out.append(' ').append(m == null ? "-" : format(m.value(), m.unit()));
        if (m != null && !m.note().isEmpty()) {
          out.append(" (").append(m.note()).append(')');
        }
        out.append(" |");
      }
      if (compared != null) {
        Metric other = compared.get(metric.key());
        double ratio = other == null || metric.value() == 0 ? Double.NaN : other.value() / metric.value();
        out.append(' ').append(Double.isNaN(ratio) || Double.isInfinite(ratio) ? "-"
            : String.format(Locale.ROOT, "%.1fx", ratio)).append(" |");
      }
      if (Double.isNaN(metric.target())) {
        out.append(" |\n");
      } else {
        boolean met = metric.value() <= metric.target();
        out.append(" <= ").append(format(metric.target(), metric.unit())).append(met ? " met" : " **missed**")
            .append(" |\n");
      }
    }
    return out.toString();
  }
}
