import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";

import { checkpointOrigin, signCheckpoint, type NoteSigner } from "../../core/audit/checkpoint.js";
import { GAP_SCHEMA, MAX_GAP_LEAVES, type GapLeaf, type GapReason } from "../../core/audit/gap.js";
import { canonicalJson, leafBytes, LOG_ID_FIELD, LOG_INDEX_FIELD } from "../../core/audit/leaf.js";
import { CompactRange, leafHash } from "../../core/audit/merkle.js";

/**
 * The log's row in the sequences table (migration 4 says why there): its last_seq is the log's
 * size. No container id can start with "#" (CONTAINER_ID in config/schema.ts).
 */
export const LOG_ROW = "#log";

/** A record as the log holds it: stamped with its log and its index there. */
export type Stamped<T> = T & { log_id: string; log_index: number };

/** A checkpoint or gap record waiting for the broker's acknowledgement. */
export type AuditRow = {
  readonly id: number;
  readonly kind: "checkpoint" | "gap";
  readonly payload: string;
};

/**
 * The outbox's side of the cold-chain audit log (docs/audit-log.md): the log's compact range,
 * kept in the outbox database and written in the same transaction as the records it covers, so
 * a power cut leaves the range and the rows in agreement, and the signed checkpoints and gap
 * records waiting to be published. Readings are stamped with the log's id and their index as
 * they are committed; what leaves the outbox other than by delivery (evicted, dropped by report
 * by exception, dead-lettered) is named in a gap record in the transaction that removes it.
 *
 * It is written by hand: a transparency log's compact range and signed notes exist as Go
 * libraries (transparency-dev, sumdb) but not for Node, and the parts are small (core/audit).
 */
export class AuditTrail {
  private range: CompactRange = CompactRange.empty();
  private logIdValue = "";
  /** Appended to since the range was last written. */
  private dirty = false;
  /** Leaves removed in the open transaction, to be named in gap records before it commits. */
  private dropped: { reason: GapReason; leaf: GapLeaf }[] = [];
  /** The size of the last checkpoint signed by this process (none yet: -1, so a start signs). */
  private signedSize = -1;
  /**
   * The one statement of every commit, prepared on first use and kept; the rest (a start, a
   * checkpoint a minute, a gap) are prepared when used: a kept statement holds about 4 KiB of
   * SQLite's memory, which a fleet worker of thousands of gateways pays thousands of times.
   */
  private saveStatement: Database.Statement | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly gatewayId: string,
    private readonly now: () => number,
    /** Runs work in one of the outbox's transactions (OutboxStore.atomically). */
    private readonly transact: <T>(work: () => T) => T,
    /** A checkpoint was committed: the outbox syncs it soon (with a background WAL sync). */
    private readonly written: () => void = () => {},
  ) {
    if (this.load() === undefined) {
      // A new log for a new file: its id tells its records from those of a file it replaced.
      db.prepare("INSERT INTO meta (key, value) VALUES ('audit_log_id', ?)").run(
        randomBytes(4).readUInt32BE(0),
      );
      db.prepare(
        `INSERT INTO sequences (container_id, last_seq, log_range) VALUES ('${LOG_ROW}', 0, ?)`,
      ).run(Buffer.alloc(0));
    }
    this.reload();
  }

  private load() {
    return this.db
      .prepare<[], { log_id: number; size: number; range: Buffer }>(
        `SELECT meta.value AS log_id, last_seq AS size, log_range AS range FROM sequences, meta
         WHERE container_id = '${LOG_ROW}' AND meta.key = 'audit_log_id'`,
      )
      .get();
  }

  private queue(kind: AuditRow["kind"], payload: string): void {
    this.db.prepare("INSERT INTO audit_outbox (kind, payload) VALUES (?, ?)").run(kind, payload);
  }

  get logId(): string {
    return this.logIdValue;
  }

  get size(): number {
    return this.range.size;
  }

  /**
   * After a rolled-back transaction: the log as the database holds it. When even that cannot be
   * read (the disk failed), the log refuses further use until this outbox is opened again, and
   * the transaction's own error is what the caller sees.
   */
  rolledBack(): void {
    try {
      this.reload();
      this.lost = null;
    } catch (error) {
      this.lost = error as Error;
    }
  }

  /** Set when the log's state could not be read back after a rollback. */
  private lost: Error | null = null;

  private usable(): void {
    if (this.lost)
      throw new Error(`the audit log's state was lost with the disk: ${this.lost.message}`);
  }

  /** The log as the database holds it: after a rollback, what the memory had appended is gone. */
  reload(): void {
    const row = this.load();
    if (row === undefined) throw new Error("the outbox's audit log row (sequences '#log') is gone");
    try {
      this.range = CompactRange.decode(row.size, row.range);
    } catch (error) {
      throw new Error(`the outbox's audit log is damaged: ${(error as Error).message}`);
    }
    this.logIdValue = row.log_id.toString(16).padStart(8, "0");
    this.dirty = false;
    this.dropped = [];
    this.signedSize = -1; // a checkpoint signed in a rolled-back transaction is signed again
  }

  /**
   * Appends a record: it comes back stamped with the log's id and its index (in the leaf), with
   * its canonical JSON, the leaf's text.
   */
  stamp<T extends object>(record: T): { record: Stamped<T>; json: string } {
    this.usable();
    const stamped = {
      ...record,
      [LOG_ID_FIELD]: this.logIdValue,
      [LOG_INDEX_FIELD]: this.range.size,
    } as Stamped<T>;
    const json = canonicalJson(stamped);
    this.range.append(leafHash(Buffer.from(json, "utf8")));
    this.dirty = true;
    return { record: stamped, json };
  }

  /**
   * A stored row leaves without being delivered: if its payload is a record of this log, it is
   * named in a gap record before the transaction commits. Unlogged rows (captured before the
   * log, or stored after their copy was sent from memory) leave nothing to declare.
   */
  dropping(payload: string, reason: GapReason): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return; // not JSON: never a logged record
    }
    const index = record[LOG_INDEX_FIELD];
    if (record[LOG_ID_FIELD] !== this.logIdValue || typeof index !== "number") return;
    this.dropped.push({
      reason,
      leaf: {
        log_index: index,
        leaf_hash: leafHash(leafBytes(record)).toString("base64"),
        container_id: String(record.container_id),
        seq: typeof record.seq === "number" ? record.seq : null,
      },
    });
  }

  /**
   * Before the transaction commits: the gap records of what it dropped are appended and queued,
   * and the range is written, so the range and the rows it covers commit together.
   */
  settle(): void {
    if (this.dropped.length > 0) {
      const at = new Date(this.now()).toISOString();
      const byReason = new Map<GapReason, GapLeaf[]>();
      for (const { reason, leaf } of this.dropped) {
        const leaves = byReason.get(reason) ?? [];
        leaves.push(leaf);
        byReason.set(reason, leaves);
      }
      this.dropped = [];
      for (const [reason, leaves] of byReason) {
        for (let from = 0; from < leaves.length; from += MAX_GAP_LEAVES) {
          const { json } = this.stamp({
            schema: GAP_SCHEMA,
            gateway_id: this.gatewayId,
            reason,
            at,
            leaves: leaves.slice(from, from + MAX_GAP_LEAVES),
          });
          this.queue("gap", json);
        }
      }
    }
    if (!this.dirty) return;
    this.saveStatement ??= this.db.prepare(
      `UPDATE sequences SET last_seq = ?, log_range = ? WHERE container_id = '${LOG_ROW}'`,
    );
    this.saveStatement.run(this.range.size, this.range.encode());
    this.dirty = false;
  }

  /**
   * Signs a checkpoint of the log as it stands and queues it, in a transaction of its own, when
   * the log grew since the last one (or none was signed by this process). True when signed.
   */
  signCheckpoint(signer: NoteSigner): boolean {
    const signed = this.transact(() => this.checkpoint(signer));
    if (signed) this.written();
    return signed;
  }

  private checkpoint(signer: NoteSigner): boolean {
    this.usable();
    if (this.range.size === this.signedSize) return false;
    const note = signCheckpoint(
      {
        origin: checkpointOrigin(this.gatewayId, this.logIdValue),
        size: this.range.size,
        root: this.range.root(),
      },
      signer,
    );
    this.queue("checkpoint", note);
    this.signedSize = this.range.size;
    return true;
  }

  /** Up to `limit` queued rows after `afterId`, oldest first. */
  queued(afterId: number, limit: number): AuditRow[] {
    return this.db
      .prepare<[number, number], AuditRow>(
        "SELECT id, kind, payload FROM audit_outbox WHERE id > ? ORDER BY id LIMIT ?",
      )
      .all(afterId, limit);
  }

  /** The broker acknowledged these rows. */
  delivered(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.transact(() => {
      const remove = this.db.prepare("DELETE FROM audit_outbox WHERE id = ?");
      for (const id of ids) remove.run(id);
    });
  }
}
