import { LANE, type Lane } from "./publish-queue.js";

/**
 * Bytes counted per row on top of its payload for the disk budget: the row's other columns,
 * index entries and page slack. An estimate, so `maxBytes` bounds the database file closely
 * rather than exactly.
 */
export const ROW_OVERHEAD_BYTES = 64;

/** The lane the totals give the audit log's rows (audit_outbox): no lane of the outbox's. */
export const AUDIT_LANE = -1;

/**
 * Rows and bytes of the outbox per lane, kept in memory beside every insert and delete so the
 * budget needs no query per capture; recounted from the database after a rollback.
 */
export class OutboxTally {
  rows = { alert: 0, telemetry: 0, held: 0 };
  bytes = 0;

  remember(lane: Lane, bytes: number): void {
    this.rows[laneName(lane)]++;
    this.bytes += bytes + ROW_OVERHEAD_BYTES;
  }

  forget(lane: Lane, bytes: number): void {
    this.rows[laneName(lane)]--;
    this.bytes -= bytes + ROW_OVERHEAD_BYTES;
  }

  /**
   * The audit log's rows (checkpoints, gap records, drops not yet logged) take disk too, and are
   * never evicted: counted in the bytes, so the budget makes room for them by evicting readings.
   */
  resizeAudit(bytes: number, rows: number): void {
    this.bytes += bytes + rows * ROW_OVERHEAD_BYTES;
  }

  /** Starts again from the database's totals (AUDIT_LANE: the audit log's rows). */
  recount(totals: readonly { lane: number; n: number; bytes: number }[]): void {
    this.rows = { alert: 0, telemetry: 0, held: 0 };
    this.bytes = 0;
    for (const total of totals) {
      if (total.lane !== AUDIT_LANE) this.rows[laneName(total.lane as Lane)] += total.n;
      this.bytes += total.bytes + total.n * ROW_OVERHEAD_BYTES;
    }
  }
}

function laneName(lane: Lane): "alert" | "telemetry" | "held" {
  return lane === LANE.alert ? "alert" : lane === LANE.held ? "held" : "telemetry";
}
