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
import { AuditLogRow } from "./audit-log-row.js";
import { AuditOutbox, type AuditRow } from "./audit-outbox.js";
import type { OutboxStore } from "./store.js";
import type { OutboxTally } from "./tally.js";

/** A record as the log holds it: stamped with its log and its index there. */
export type Stamped<T> = T & { log_id: string; log_index: number };

export type { AuditRow } from "./audit-outbox.js";

/**
 * The outbox's side of the cold-chain audit log (docs/audit-log.md): the log's compact range,
 * kept in the outbox database and written in the same transaction as the records it covers, so
 * a power cut leaves the range and the rows in agreement, and the signed checkpoints and gap
 * records waiting to be published. Readings are stamped with the log's id and their index as
 * they are committed; what leaves the outbox other than by delivery (evicted, dropped by report
 * by exception, dead-lettered) is kept as a pending drop in the transaction that removes it, and
 * logged in a gap record before the next checkpoint. Under write-behind, readings are stamped
 * as they go to memory (`stampAhead`): the range in memory leads, the disk's follows with each
 * commit, and a start after an unclean stop begins a new log.
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
  /** The log's state in the database: its row, and the write-behind mark. */
  private readonly row: AuditLogRow;
  /** The range as the open transaction found it: what a rollback goes back to. */
  private atBegin: CompactRange | null = null;
  /**
   * Write-behind: records stamped in memory (`stampAhead`) may be published before any commit
   * stores them, so the file says so (meta audit_ahead) before the first is: a start that finds
   * it set, after a power cut or a crash, begins a new log instead of giving those indexes again.
   */
  private aheadMarked = false;
  /** The log this file kept before an unclean stop under write-behind made it begin a new one. */
  private replacedLogId: string | null = null;
  /** Drops of records stamped in memory, declared in the next transaction (and again after a rollback). */
  private deferredDrops: { payload: string; reason: GapReason }[] = [];
  private declaringDrops: { payload: string; reason: GapReason }[] = [];

  /** Its checkpoints, gap records and pending drops (audit_outbox). */
  private readonly messages: AuditOutbox;

  constructor(
    private readonly db: Database.Database,
    private readonly gatewayId: string,
    private readonly now: () => number,
    /** Runs work in one of the outbox's transactions (OutboxStore.atomically). */
    private readonly transact: <T>(work: () => T) => T,
    /**
     * A checkpoint or gap record was committed: the outbox makes it durable before returning
     * (with a background WAL sync: a sync on the spot; rare, a checkpoint a minute).
     */
    private readonly written: () => void = () => {},
    /** The outbox's tally, which counts the audit log's rows against the disk budget. */
    tally: OutboxTally | null = null,
  ) {
    this.messages = new AuditOutbox(db, tally, written);
    this.row = new AuditLogRow(db);
    if (this.row.read() === undefined) this.row.create();
    else if (this.row.ahead) this.replacedLogId = this.beginNewLog();
    this.reload();
  }

  /**
   * The last process stamped records in memory and stopped before storing them all: records of
   * its log past what this file holds may be in the lake. Appending here would give their
   * indexes again, so the file begins a new log, with a new id. The old log ends at its last
   * checkpoint; its drops not yet logged cannot be (their gap record would take an index that
   * may be given). Returns the old log's id.
   */
  private beginNewLog(): string {
    const old = this.db.transaction(() => {
      this.messages.forgetAllPending();
      return this.row.replace();
    })();
    return logIdText(old);
  }

  /** The log id this file kept before an unclean stop under write-behind (null: none replaced). */
  get replaced(): string | null {
    return this.replacedLogId;
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
    store.beforeBegin(() => trail.began());
    store.onRollback(() => trail.rolledBack());
    store.beforeCommit(() => trail.settle());
    store.afterCommit(() => trail.committed());
    return trail;
  }

  /** A transaction begins: the range it may roll back to. */
  began(): void {
    this.atBegin = this.range.clone();
  }

  /** After a commit: what it queued is made durable, and may then be sent. */
  committed(): void {
    this.declaringDrops = [];
    this.messages.committed();
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
    const before = this.atBegin;
    try {
      this.reload();
      this.lost = null;
    } catch (error) {
      this.lost = error as Error;
    }
    // Stamped in memory before the transaction (write-behind), and maybe published already:
    // kept, and written by the next commit.
    if (before !== null && before.size > this.range.size) {
      this.range = before;
      this.dirty = true;
    }
    this.deferredDrops = [...this.declaringDrops, ...this.deferredDrops];
    this.declaringDrops = [];
  }

  /** Set when the log's state could not be read back after a rollback. */
  private lost: Error | null = null;

  private usable(): void {
    if (this.lost)
      throw new Error(`the audit log's state was lost with the disk: ${this.lost.message}`);
  }

  /** The log as the database holds it: after a rollback, what the memory had appended is gone. */
  reload(): void {
    const row = this.row.read();
    if (row === undefined) throw new Error("the outbox's audit log row (sequences '#log') is gone");
    try {
      this.range = CompactRange.decode(row.size, row.range);
    } catch (error) {
      throw new Error(`the outbox's audit log is damaged: ${(error as Error).message}`);
    }
    this.logIdValue = logIdText(row.log_id);
    this.dirty = false;
    this.pending = new Map();
    this.changed.clear();
    for (const { id, payload } of this.messages.pendingRows()) {
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
    this.messages.reload();
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
   * Write-behind: stamps a record kept in memory, to be published from there, before any commit
   * stores it. The range grows in memory and is written by the next commit; the first call of a
   * file marks it (synced) so that an unclean stop makes the next start begin a new log.
   */
  stampAhead<T extends object>(record: T): { record: Stamped<T>; json: string; payload: string } {
    this.usable();
    if (!this.aheadMarked) {
      this.transact(() => this.row.markAhead(true));
      this.written();
      this.aheadMarked = true;
    }
    return this.stamp(record);
  }

  /**
   * Everything stamped in memory is stored or was acknowledged (a graceful stop, memory empty):
   * the range is written and the mark taken away, so the next start goes on with this log.
   */
  caughtUp(): void {
    if (!this.aheadMarked) return;
    this.transact(() => this.row.markAhead(false));
    this.aheadMarked = false;
  }

  /** A record stamped in memory was dropped there unsent: declared by the next transaction. */
  droppedAhead(payload: string, reason: GapReason): void {
    this.deferredDrops.push({ payload, reason });
  }

  /** Inside a transaction: the drops `droppedAhead` kept, declared (again after a rollback). */
  private declareDeferred(): void {
    if (this.deferredDrops.length === 0) return;
    this.declaringDrops = [...this.declaringDrops, ...this.deferredDrops];
    const drops = this.deferredDrops;
    this.deferredDrops = [];
    for (const { payload, reason } of drops) this.dropping(payload, reason);
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
    if (pending.rowId !== 0) this.messages.forgetPending(pending.rowId, pending.bytes);
    if (pending.gap.empty) return;
    const { json } = this.stamp(
      pending.gap.record(this.gatewayId, new Date(this.now()).toISOString()),
    );
    this.messages.queue("gap", json);
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
    pending.rowId = this.messages.keepPending(pending.rowId, json, pending.bytes);
    pending.bytes = Buffer.byteLength(json);
    this.changed.delete(reason);
  }

  /**
   * Before the transaction commits: what it dropped is written to the pending drops, and the
   * range is written, so the range, the drops and the rows they cover commit together.
   */
  settle(): void {
    this.declareDeferred();
    for (const reason of [...this.changed]) this.keepPending(reason);
    if (!this.dirty) return;
    this.row.save(this.range.size, this.range.encode());
    this.dirty = false;
  }

  /**
   * Signs a checkpoint of the log as it stands and queues it, in a transaction of its own, when
   * the log grew since the last one (or none was signed by this process). True when signed.
   */
  signCheckpoint(signer: NoteSigner): boolean {
    return this.transact(() => this.checkpoint(signer));
  }

  private checkpoint(signer: NoteSigner): boolean {
    this.usable();
    // What was dropped since the last checkpoint is logged first, so the checkpoint covers it.
    this.declareDeferred();
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
    this.messages.queue("checkpoint", note);
    this.signedSize = this.range.size;
    return true;
  }

  /** Up to `limit` checkpoints and gap records after `afterId`, once durable, oldest first. */
  queued(afterId: number, limit: number): AuditRow[] {
    return this.messages.queued(afterId, limit);
  }

  /** The broker acknowledged these rows. */
  delivered(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.transact(() => this.messages.delivered(ids));
  }
}

/** A log id as records carry it: 8 hex digits. */
function logIdText(id: number): string {
  return id.toString(16).padStart(8, "0");
}
