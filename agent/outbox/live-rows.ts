import type { RowRecord } from "./statements.js";

/**
 * At most this many committed rows wait here untaken. Online the publisher takes a tick's rows
 * as soon as they are durable, so a handful wait; offline nothing takes them, and a cache that
 * only grew would hold the whole backlog in memory. Past it the cache starts over empty, and the
 * live lane reads the table until the publisher catches up.
 */
const MAX_WAITING = 64;

/**
 * The telemetry rows committed and not yet taken, as they were inserted: the live lane is served
 * from here instead of reading back what was just written (that SELECT was 13 % of a fleet
 * worker's event loop, BENCHMARKS.md). It is complete from `from` on: every telemetry row of the
 * table whose id is at least `from` is here, byte for byte. Inserts and deletes keep it so (the
 * store makes both); anything else that changes such a row (a clock correction's rewrite, a held
 * reading promoted to telemetry, a rollback) empties it, and `from` moves past every id given
 * out, so the table answers for those rows.
 */
export class LiveRows {
  private rows: RowRecord[] = [];
  /** Inserted by the transaction under way: here once it commits. */
  private pending: RowRecord[] = [];
  private from: number;

  constructor(lastInsertedId: number) {
    this.from = lastInsertedId + 1;
  }

  /** A telemetry row was inserted (inside a transaction). */
  inserted(row: RowRecord): void {
    this.pending.push(row);
  }

  /** The transaction committed: its rows are in the table now. */
  committed(): void {
    if (this.pending.length === 0) return;
    for (const row of this.pending) this.rows.push(row);
    this.pending = [];
    if (this.rows.length > MAX_WAITING) this.startOver(this.rows[this.rows.length - 1]?.id ?? 0);
  }

  /** A row was deleted (evicted, dead-lettered, acknowledged). */
  deleted(id: number): void {
    // Pending ids follow committed ones: the first of either is the lowest id held.
    const first = this.rows[0] ?? this.pending[0];
    if (first === undefined || id < first.id) return; // the common case: an old row
    const at = this.rows.findIndex((row) => row.id === id);
    if (at >= 0) this.rows.splice(at, 1);
    const inserted = this.pending.findIndex((row) => row.id === id);
    if (inserted >= 0) this.pending.splice(inserted, 1);
  }

  /**
   * Row `id` changed, or entered the telemetry lane, other than by an insert (a clock
   * correction's rewrite, a held reading promoted): if it is one this cache answers for, it
   * starts over.
   */
  changed(id: number, lastInsertedId: number): void {
    if (id >= this.from) this.startOver(lastInsertedId);
  }

  /**
   * Rows changed in some other way, or a transaction rolled back (what it inserted or deleted is
   * undone): nothing here can be trusted, and every row up to `lastInsertedId` is the table's.
   */
  startOver(lastInsertedId: number): void {
    this.rows = [];
    this.pending = [];
    this.from = Math.max(this.from, lastInsertedId + 1);
  }

  /**
   * The rows after `cursor` up to `visibleId`, at most `limit`, leaving out those `skip` names
   * (in flight), as the live lane's SELECT would return them; null when the cache cannot answer
   * for every row after `cursor` (a cursor moved back by a release, rows before `from`).
   */
  after(
    cursor: number,
    visibleId: number,
    limit: number,
    skip: (id: number) => boolean,
  ): RowRecord[] | null {
    this.dropThrough(cursor);
    if (cursor + 1 < this.from) return null;
    const out: RowRecord[] = [];
    for (const row of this.rows) {
      if (out.length >= limit || row.id > visibleId) break;
      if (!skip(row.id)) out.push(row);
    }
    const last = out[out.length - 1];
    if (last) this.dropThrough(last.id);
    return out;
  }

  /** Rows up to `id` were taken (or are backfill now): the table answers for them from here on. */
  private dropThrough(id: number): void {
    if (id + 1 <= this.from) return;
    let n = 0;
    while (n < this.rows.length && (this.rows[n]?.id ?? 0) <= id) n++;
    if (n > 0) this.rows = this.rows.slice(n);
    this.from = id + 1;
  }
}
