package io.nodemesh.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A plain text table as kubectl prints one: upper-case headers, columns padded to their widest cell. */
public final class TextTable {

  private final List<String> headers;
  private final List<List<String>> rows = new ArrayList<>();

  TextTable(String... headers) {
    this.headers = List.of(headers);
  }

  TextTable row(String... cells) {
    if (cells.length != headers.size()) {
      throw new IllegalArgumentException(cells.length + " cells for " + headers.size() + " columns");
    }
    rows.add(List.of(cells));
    return this;
  }

  String render() {
    int[] widths = new int[headers.size()];
    for (int column = 0; column < widths.length; column++) {
      widths[column] = headers.get(column).length();
      for (List<String> row : rows) {
        widths[column] = Math.max(widths[column], row.get(column).length());
      }
    }
    StringBuilder text = new StringBuilder();
    appendLine(text, headers, widths);
    rows.forEach(row -> appendLine(text, row, widths));
    return text.toString();
  }

  private static void appendLine(StringBuilder text, List<String> cells, int[] widths) {
    StringBuilder line = new StringBuilder();
    for (int column = 0; column < cells.size(); column++) {
      line.append(column == cells.size() - 1 ? cells.get(column)
          : String.format("%-" + (widths[column] + 3) + "s", cells.get(column)));
    }
    text.append(line.toString().stripTrailing()).append('\n');
  }

  /** Like kubectl's AGE column: 45s, 3m12s, 5h4m, 2d3h. */
  public static String age(Duration age) {
    long seconds = age.toSeconds();
    if (seconds < 120) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return seconds / 60 + "m" + (seconds % 60 == 0 ? "" : seconds % 60 + "s");
    }
    if (seconds < 48 * 3600) {
      return seconds / 3600 + "h" + (seconds % 3600 / 60 == 0 ? "" : seconds % 3600 / 60 + "m");
    }
    return seconds / 86400 + "d" + (seconds % 86400 / 3600 == 0 ? "" : seconds % 86400 / 3600 + "h");
  }
}
