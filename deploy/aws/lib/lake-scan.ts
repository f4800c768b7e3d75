import { gzipSync } from "node:zlib";

/**
 * What one query over the lake scans, computed from the table it reads and that table's layout,
 * the way Athena bills it: a text table (JSON, gzipped by Firehose) is read whole, every byte of
 * every object in the partitions the query names; a Parquet table reads only the columns the
 * query names. The Parquet figure is an upper bound: each value at its plain width, before
 * Parquet's dictionary and run-length encodings and its compression.
 */

export type Column = { readonly name: string; readonly type: string };

export interface TableLayout {
  readonly name: string;
  readonly format: "json" | "parquet";
  readonly columns: readonly Column[];
  /** Rows a day, over the whole fleet. */
  readonly rowsPerDay: number;
}

export interface ScanEstimate {
  readonly table: string;
  readonly bytes: number;
  /** How the figure was reached, for the test's output and the docs. */
  readonly how: string;
}

/** A value's plain width in Parquet: fixed for numbers and times; length and bytes for text. */
function plainWidth(column: Column, sample: Readonly<Record<string, unknown>>): number {
  switch (column.type) {
    case "double":
    case "bigint":
    case "timestamp":
      return 8;
    case "boolean":
      return 1;
    default: {
      const value = sample[column.name];
      return 4 + Buffer.byteLength(typeof value === "string" ? value : "");
    }
  }
}

/**
 * The bytes a query of `sql` over `days` days of `table` scans. `sample` gives representative
 * rows: their gzipped JSON for a text table (measured, not assumed), their text values for
 * Parquet's string columns.
 */
export function scanBytes(
  sql: string,
  table: TableLayout,
  days: number,
  sample: readonly Readonly<Record<string, unknown>>[],
): ScanEstimate {
  const rows = table.rowsPerDay * days;
  const first = sample[0] ?? {};
  if (table.format === "json") {
    const lines = sample.map((r) => JSON.stringify(r) + "\n").join("");
    const perRow = gzipSync(lines).length / sample.length;
    return {
      table: table.name,
      bytes: rows * perRow,
      how: `${fmt(rows)} rows × ${perRow.toFixed(0)} B of gzipped JSON each, read whole`,
    };
  }
  const read = table.columns.filter((c) => new RegExp(`\\b${c.name}\\b`).test(sql));
  const perRow = read.reduce((sum, c) => sum + plainWidth(c, first), 0);
  return {
    table: table.name,
    bytes: rows * perRow,
    how: `${fmt(rows)} rows × ${perRow} B of ${read.length} Parquet columns (${read.map((c) => c.name).join(", ")}), at plain width`,
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
