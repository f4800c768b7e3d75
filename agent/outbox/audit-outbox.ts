import type Database from "better-sqlite3";

import type { OutboxTally } from "./tally.js";

/** A checkpoint or gap record waiting for the broker's acknowledgement. */
export type AuditRow = {
  readonly id: number;
  readonly kind: "checkpoint" | "gap";
  readonly payload: string;
};

/**
 * audit_outbox's kind for the drops of one reason not yet logged (a PendingGap): kept, not
 * published, until the next checkpoint logs them as one gap record.
 */
const PENDING_GAP = "pending_gap";

/**
 * The audit log's table of messages (audit_outbox): checkpoints and gap records waiting for the
 * broker, and the pending drops of each reason. Every change is counted in the outbox's tally,
 * so the log's rows count against the disk budget. A queued message may be sent only once the
 * commit that queued it is on the disk (`committed`).
 */
export class AuditOutbox {
  /**
   * The newest row known to be on the disk, and the newest queued. Sent before its commit was
   * durable, a power cut could take a checkpoint or gap record back, and the log would go on
   * from the smaller size with other leaves at the indexes the published record covers: an
   * auditor would see a log altered where none was.
   */
  private durableId = 0;
  private queuedId = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly tally: OutboxTally | null,
    /** Makes what was committed durable (with a background WAL sync: a sync on the spot). */
    private readonly sync: () => void,
  ) {
    this.reload();
  }

  /** After a rollback or at open: what the file holds was committed, and synced (`committed`). */
  reload(): void {
    this.durableId = this.queuedId =
      this.db.prepare<[], { id: number | null }>("SELECT max(id) AS id FROM audit_outbox").get()
        ?.id ?? 0;
  }

  /** Queues a message, inside the caller's transaction. */
  queue(kind: AuditRow["kind"], payload: string): void {
    const { lastInsertRowid } = this.db
      .prepare("INSERT INTO audit_outbox (kind, payload) VALUES (?, ?)")
      .run(kind, payload);
    this.queuedId = Number(lastInsertRowid);
    this.tally?.resizeAudit(Buffer.byteLength(payload), 1);
  }

  /** After a commit: what it queued is made durable, and may then be sent (rare: a minute's). */
  committed(): void {
    if (this.queuedId <= this.durableId) return;
    this.sync();
    this.durableId = this.queuedId;
  }

  /** Up to `limit` durable queued messages after `afterId`, oldest first. */
  queued(afterId: number, limit: number): AuditRow[] {
    return this.db
      .prepare<[number, number, number], AuditRow>(
        `SELECT id, kind, payload FROM audit_outbox
         WHERE id > ? AND id <= ? AND kind != '${PENDING_GAP}' ORDER BY id LIMIT ?`,
      )
      .all(afterId, this.durableId, limit);
  }

  /** The broker acknowledged these messages: gone, inside the caller's transaction. */
  delivered(ids: readonly number[]): void {
    const remove = this.db.prepare<[number], { bytes: number }>(
      "DELETE FROM audit_outbox WHERE id = ? RETURNING length(CAST(payload AS BLOB)) AS bytes",
    );
    for (const id of ids) {
      const gone = remove.get(id);
      if (gone) this.tally?.resizeAudit(-gone.bytes, -1);
    }
  }

  /** The pending drops' rows, one per reason. */
  pendingRows(): { id: number; payload: string }[] {
    return this.db
      .prepare<[], { id: number; payload: string }>(
        `SELECT id, payload FROM audit_outbox WHERE kind = '${PENDING_GAP}'`,
      )
      .all();
  }

  /** Writes a reason's pending drops: a new row (`id` 0) or its own; returns the row's id. */
  keepPending(id: number, json: string, bytesBefore: number): number {
    const bytes = Buffer.byteLength(json);
    if (id !== 0) {
      this.db.prepare("UPDATE audit_outbox SET payload = ? WHERE id = ?").run(json, id);
      this.tally?.resizeAudit(bytes - bytesBefore, 0);
      return id;
    }
    this.tally?.resizeAudit(bytes, 1);
    return Number(
      this.db
        .prepare(`INSERT INTO audit_outbox (kind, payload) VALUES ('${PENDING_GAP}', ?)`)
        .run(json).lastInsertRowid,
    );
  }

  /** A reason's pending drops were logged: their row goes. */
  forgetPending(id: number, bytes: number): void {
    this.db.prepare("DELETE FROM audit_outbox WHERE id = ?").run(id);
    this.tally?.resizeAudit(-bytes, -1);
  }

  /** Every pending drop (a new log begins: they belonged to the old one). */
  forgetAllPending(): void {
    const gone = this.db
      .prepare<[], { bytes: number }>(
        `DELETE FROM audit_outbox WHERE kind = '${PENDING_GAP}'
         RETURNING length(CAST(payload AS BLOB)) AS bytes`,
      )
      .all();
    for (const { bytes } of gone) this.tally?.resizeAudit(-bytes, -1);
  }
}
