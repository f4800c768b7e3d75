import { HISTORY_COLUMNS, type HistoryColumnsWire } from "../../dashboard/wire.js";

/** One reading as the chart takes it: the values of HISTORY_COLUMNS, in order. */
export type HistoryPoint = readonly (number | null)[];

/** The columns of a container's recent history, oldest first, each as long as the others. */
export type HistoryColumns = HistoryColumnsWire;

/**
 * A container's recent readings for the dashboard's chart, in fixed memory: a ring of Float64
 * columns (NaN for a missing value), so an agent that runs for months holds the same bytes as
 * one that just started. The dashboard needs no database of its own: older history is the
 * cloud's.
 */
export class HistoryRing {
  private readonly columns: Float64Array[];
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`HistoryRing: capacity must be a positive integer, got ${capacity}`);
    }
    this.columns = HISTORY_COLUMNS.map(() => new Float64Array(capacity));
  }

  get size(): number {
    return this.length;
  }

  push(point: HistoryPoint): void {
    const at = (this.start + this.length) % this.capacity;
    for (let c = 0; c < this.columns.length; c++) {
      const column = this.columns[c];
      if (column) column[at] = point[c] ?? Number.NaN;
    }
    if (this.length < this.capacity) this.length++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The points at or after `since` (ms), oldest first, as columns (JSON has no NaN: null). */
  columnsSince(since: number): HistoryColumns {
    const times = this.columns[0];
    let first = 0;
    while (
      first < this.length &&
      times &&
      (times[(this.start + first) % this.capacity] ?? 0) < since
    )
      first++;
    const out = Object.fromEntries(HISTORY_COLUMNS.map((name) => [name, [] as (number | null)[]]));
    for (let i = first; i < this.length; i++) {
      const at = (this.start + i) % this.capacity;
      HISTORY_COLUMNS.forEach((name, c) => {
        const value = this.columns[c]?.[at] ?? Number.NaN;
        out[name]?.push(Number.isNaN(value) ? null : value);
      });
    }
    return out as HistoryColumns;
  }
}
