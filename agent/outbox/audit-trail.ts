import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";

import { checkpointOrigin, signCheckpoint, type NoteSigner } from "../../core/audit/checkpoint.js";
import { MAX_GAP_BYTES, PendingGap, type GapReason } from "../../core/audit/gap.js";
import {
  canonicalJson,
  inCanonicalOrder,
  leafBytes,
  LOG_ID_FIELD,
  LOG_INDEX_FIELD,
} from "../../core/audit/leaf.js";
import { CompactRange, leafHash, leafHashOfText } from "../../core/audit/merkle.js";
import type { OutboxStore } from "./store.js";
import type { OutboxTally } from "./tally.js";

/**
 * The log's row in the sequences table (migration 4 says why there): its last_seq is the log's
 * size. No container id can start with "#" (CONTAINER_ID in config/schema.ts).
 */
export const LOG_ROW = "#log";

/** A record as the log holds it: stamped with its log and its index there. */
export type Stamped<T> = T & { log_id: string; log_index: number };

/**
 * audit_outbox's kind for the drops of one reason not yet logged (a PendingGap): kept, not
 * published, until the next checkpoint logs them as one gap record.
 */
const PENDING_GAP = "pending_gap";

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
 * by exception, dead-lettered) is kept as a pending drop in the transaction that removes it, and
 * logged in a gap record before the next checkpoint.
 *
 * It is written by hand: a transparency log's compact range and signed notes exist as Go
 * libraries (transparency-dev, sumdb) but not for Node, and the parts are small (core/audit).
 */
export class AuditTrail {
  private range: CompactRange = CompactRange.empty();
  private logIdValue = "";
  /** Appended to since the range was last written. */
  private dirty = false;
  /**
   * Drops not yet logged, per reason, with their audit_outbox row (0: none yet). Each drop is
   * written there in the transaction that removes the leaf, so a power cut cannot lose it, and
   * the next checkpoint logs them all as one gap record: a disk that stays full costs a gap
   * record a minute, not one a transaction.
   */
  private pending = new Map<GapReason, { gap: PendingGap; rowId: number; bytes: number }>();
  /** Reasons whose pending drops changed in the open transaction. */
  private readonly changed = new Set<GapReason>();
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
    /** The outbox's tally, which counts the audit log's rows against the disk budget. */
    private readonly tally: OutboxTally | null = null,
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

  /**
   * The log of an outbox: its range written before each of the store's commits, and read back
   * after each rollback; its rows counted in the store's tally.
   */
  static attach(
    db: Database.Database,
    store: OutboxStore,
    gatewayId: string,
    now: () => number,
    written: () => void,
  ): AuditTrail {
    const trail = new AuditTrail(
      db,
      gatewayId,
      now,
      (work) => store.atomically(work),
      written,
      store.tally,
    );
    store.onRollback(() => trail.rolledBack());
    store.beforeCommit(() => trail.settle());
    return trail;
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
    this.tally?.resizeAudit(Buffer.byteLength(payload), 1);
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
    this.pending = new Map();
    this.changed.clear();
    for (const { id, payload } of this.db
      .prepare<[], { id: number; payload: string }>(
        `SELECT id, payload FROM audit_outbox WHERE kind = '${PENDING_GAP}'`,
      )
      .all()) {
      try {
        const gap = PendingGap.fromJson(payload);
        this.pending.set(gap.reason, { gap, rowId: id, bytes: Buffer.byteLength(payload) });
      } catch (error) {
        throw new Error(
          `the outbox's audit log is damaged: its pending drops (audit_outbox ${id}) do not read: ${(error as Error).message}`,
        );
      }
    }
    this.signedSize = -1; // a checkpoint signed in a rolled-back transaction is signed again
  }

  /**
   * Appends a record: it comes back stamped with the log's id and its index (in the leaf), with
   * its canonical JSON (the leaf's text) and the JSON to store and publish (the same text for a
   * reading, whose keys come back in canonical order).
   */
  stamp<T extends object>(record: T): { record: Stamped<T>; json: string; payload: string } {
    this.usable();
    const fields = { [LOG_ID_FIELD]: this.logIdValue, [LOG_INDEX_FIELD]: this.range.size };
    // A reading: its keys put in canonical order, so its JSON is the leaf and the payload alike.
    const ordered = inCanonicalOrder(record as Readonly<Record<string, unknown>>, fields);
    const stamped = (ordered?.record ?? { ...record, ...fields }) as Stamped<T>;
    const json = ordered?.json ?? canonicalJson(stamped);
    this.range.append(leafHashOfText(json));
    this.dirty = true;
    // The payload: the record's JSON in its own key order, the leaf's text when that is canonical.
    return { record: stamped, json, payload: ordered?.json ?? JSON.stringify(stamped) };
  }

  /**
   * A stored row leaves without being delivered: if its payload is a record of this log, it is
   * kept as a pending drop before the transaction commits. Unlogged rows (captured before the
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
    this.usable();
    let pending = this.pending.get(reason);
    if (pending === undefined) {
      pending = { gap: PendingGap.empty(reason), rowId: 0, bytes: 0 };
      this.pending.set(reason, pending);
    }
    pending.gap.add(
      new Date(this.now()).toISOString(),
      index,
      leafHash(leafBytes(record)),
      String(record.container_id),
      typeof record.seq === "number" ? record.seq : null,
    );
    this.changed.add(reason);
    // A transaction that drops many (a full disk, a batch refused) logs them as it goes, so that
    // no gap record outgrows a message the broker takes.
    if (pending.gap.approximateBytes > MAX_GAP_BYTES) this.logGap(reason);
  }

  /** Logs the pending drops of `reason` as a gap record, and forgets them. */
  private logGap(reason: GapReason): void {
    const pending = this.pending.get(reason);
    if (pending === undefined) return;
    this.pending.delete(reason);
    this.changed.delete(reason);
    if (pending.rowId !== 0) {
      this.db.prepare("DELETE FROM audit_outbox WHERE id = ?").run(pending.rowId);
      this.tally?.resizeAudit(-pending.bytes, -1);
    }
    if (pending.gap.empty) return;
    const { json } = this.stamp(
      pending.gap.record(this.gatewayId, new Date(this.now()).toISOString()),
    );
    this.queue("gap", json);
  }

  /** Writes the pending drops of `reason` in their row (the open transaction's changes). */
  private keepPending(reason: GapReason): void {
    const pending = this.pending.get(reason);
    if (pending === undefined) return;
    const json = pending.gap.toJson();
    // A gap record must stay a message AWS IoT accepts: a long run of changes is logged early.
    if (json.length > MAX_GAP_BYTES) {
      this.logGap(reason);
      return;
    }
    const bytes = Buffer.byteLength(json);
    if (pending.rowId === 0) {
      pending.rowId = Number(
        this.db
          .prepare(`INSERT INTO audit_outbox (kind, payload) VALUES ('${PENDING_GAP}', ?)`)
          .run(json).lastInsertRowid,
      );
      this.tally?.resizeAudit(bytes, 1);
    } else {
      this.db.prepare("UPDATE audit_outbox SET payload = ? WHERE id = ?").run(json, pending.rowId);
      this.tally?.resizeAudit(bytes - pending.bytes, 0);
    }
    pending.bytes = bytes;
    this.changed.delete(reason);
  }

  /**
   * Before the transaction commits: what it dropped is written to the pending drops, and the
   * range is written, so the range, the drops and the rows they cover commit together.
   */
  settle(): void {
    for (const reason of [...this.changed]) this.keepPending(reason);
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
    // What was dropped since the last checkpoint is logged first, so the checkpoint covers it.
    for (const reason of [...this.pending.keys()]) this.logGap(reason);
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
        `SELECT id, kind, payload FROM audit_outbox WHERE id > ? AND kind != '${PENDING_GAP}'
         ORDER BY id LIMIT ?`,
      )
      .all(afterId, limit);
  }

  /** The broker acknowledged these rows. */
  delivered(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.transact(() => {
      const remove = this.db.prepare<[number], { bytes: number }>(
        "DELETE FROM audit_outbox WHERE id = ? RETURNING length(CAST(payload AS BLOB)) AS bytes",
      );
      for (const id of ids) {
        const gone = remove.get(id);
        if (gone) this.tally?.resizeAudit(-gone.bytes, -1);
      }
    });
  }
}
