import type { OutboxStats } from "../../core/gateway-status.js";
import type Database from "better-sqlite3";
import { dirname } from "node:path";
import type { ReeferReading, UnsequencedReading } from "../../core/record.js";
import { DiskBudget } from "./budget.js";
import { openOutboxDatabase, type Recovery } from "./database.js";
import type { AttachedLock } from "./outbox-lock.js";
import { LANE, type OutboxRow, type PublishQueue } from "./publish-queue.js";
import { Sequences } from "./sequences.js";
import { PublishSessions } from "./sessions.js";
import { SpaceReserve } from "./space-reserve.js";
import { OutboxStore } from "./store.js";
import { WalSync } from "./wal-sync.js";
import { DiskFullError, isDiskFull } from "./disk-full.js";
import { LOG_INDEX_FIELD } from "../../core/audit/leaf.js";
import { AuditTrail } from "./audit-trail.js";
import { rewriteEpoch } from "./clock-rewrite.js";
import { resolveHeld } from "./held-readings.js";
import { DurableCallbacks } from "./durable-callbacks.js";
import type { CaptureBatch, CaptureResult, OutboxOptions, AlertDraft } from "./outbox-types.js";

export { LANE, type Lane, type OutboxRow } from "./publish-queue.js";
export { DiskFullError } from "./disk-full.js";
export { ROW_OVERHEAD_BYTES } from "./tally.js";
export type { AlertDraft, CaptureBatch, CaptureResult, OutboxOptions } from "./outbox-types.js";

/** Space kept beside the database and given back when the disk is full, KiB, by default. */
const RESERVE_KIB = 512;

/**
 * The durable outbox (docs/wire-contract.md, "What the outbox promises"). A reading is captured
 * once its transaction commits. Rows leave only when the broker acknowledged them (`accept`),
 * when they are refused for good (`reject`, into `dead_letter`), or when the disk budget evicts
 * them, and every such exit is counted durably. One process holds it (OutboxLock).
 *
 * Its parts: Sequences (each container's seq), DiskBudget (eviction, the full-disk reserve),
 * PublishSessions (the PublishQueue the publisher sees), over one OutboxStore.
 */
export class Outbox implements PublishQueue {
  /** Set when the database file was corrupt at start and a fresh one replaced it. */
  readonly recovery: Recovery | null;
  /** The database file was created by this open. */
  private readonly fresh: boolean;
  private readonly db: Database.Database;
  private store!: OutboxStore;
  private sequences!: Sequences;
  private sessions!: PublishSessions;
  private budget!: DiskBudget;
  private reserve!: SpaceReserve;
  private readonly lock: AttachedLock | null;
  private walSync: WalSync | null = null;
  /** The audit log, when kept (`audit`). */
  private trail: AuditTrail | null = null;
  /** Callbacks waiting for rows to be durable. */
  private readonly waiting = new DurableCallbacks();

  constructor(private readonly options: OutboxOptions) {
    // The lock comes first (taken by the open, through the outbox's own connection): a second
    // agent must not even look at (or move aside) a live outbox.
    const opened = openOutboxDatabase(
      options.path,
      this.syncsInBackground ? "normal" : options.durability,
      Math.floor(options.now()),
      options.cacheKiB,
    );
    this.db = opened.db;
    this.lock = opened.lock;
    this.recovery = opened.recovery;
    this.fresh = opened.fresh;
    try {
      this.setUp();
    } catch (error) {
      // A disk that fails between the open and the first writes (read-only, an I/O error): let
      // go of the file and the lock, so the next attempt (GuardedOutbox) can open it afresh.
      this.walSync?.close();
      try {
        this.lock?.release();
      } finally {
        this.db.close();
      }
      throw error;
    }
  }

  private setUp(): void {
    const options = this.options;
    const store = new OutboxStore(this.db);
    const { statements } = store;
    store.settleLastProcess();
    this.store = store;
    this.sequences = new Sequences(statements, statements.seqBase.get()?.value ?? 0);
    store.onRollback(() => this.sequences.forgetCache());
    if (options.audit)
      this.trail = AuditTrail.attach(this.db, store, options.audit.gatewayId, options.now, () =>
        this.walSync?.syncNow(),
      );
    this.sessions = new PublishSessions(store, options.now);
    this.reserve = new SpaceReserve(
      `${options.path}.reserve`,
      options.path === ":memory:" ? 0 : (options.reserveKiB ?? RESERVE_KIB) * 1024,
    );
    this.reserve.take();
    this.budget = new DiskBudget(store, this.reserve, options, (id) => {
      this.sessions.forget(id);
      this.declareDropped(id, "evicted");
    });
    // Opening read the tables to recount them: the pages it cached are not needed again soon
    // (about 80 KiB a handle, measured with 1,000 outboxes in one process).
    this.db.pragma("shrink_memory");
    if (this.syncsInBackground) {
      store.syncedId = store.lastInsertedId;
      this.walSync = new WalSync(
        `${options.path}-wal`,
        store.lastInsertedId,
        {
          durable: (id) => this.durable(id),
          failed: (error) => options.onSyncError?.(error),
          timed: (seconds) => options.onSyncTimed?.(seconds),
        },
        // A new file was made without syncs: its header and its name must be on the disk before
        // the first rows it holds are reported or sent, or a power cut leaves a WAL of synced
        // rows beside an empty database, which starts afresh at seq 1 (the power-cut rig found
        // it: seqs given twice).
        this.fresh ? [options.path, dirname(options.path)] : [],
      );
    }
  }

  private get syncsInBackground(): boolean {
    return (
      this.options.backgroundSync === true &&
      this.options.durability === "full" &&
      this.options.path !== ":memory:"
    );
  }

  /**
   * Runs `callback` once everything committed so far is durable: at once without a background
   * sync or when nothing waits, else when the sync covering the last commit is done.
   */
  afterDurable(callback: () => void): void {
    if (this.walSync?.pending) this.waiting.add(this.store.lastInsertedId, callback);
    else callback();
  }

  /** Background WAL syncs so far (0 without a background sync): commits share them. */
  get backgroundSyncs(): number {
    return this.walSync?.syncs ?? 0;
  }

  /** Resolves once everything committed so far is durable (a graceful stop waits for it). */
  synced(): Promise<void> {
    return new Promise((resolve) => this.afterDurable(resolve));
  }

  private durable(id: number): void {
    this.store.syncedId = id;
    this.waiting.durable(id);
  }

  /** The readings with the next seq of their containers; stored only by the `commit` carrying them. */
  nextSeqs(readings: readonly UnsequencedReading[]): ReeferReading[] {
    return this.sequences.next(readings);
  }

  /** A container's last captured seq. */
  lastSeq(containerId: string): number {
    return this.sequences.last(containerId);
  }

  /**
   * Moves containers' seqs up to at least the given ones, durably: after the disk failed, seqs
   * were given out in memory (and may have reached the broker) that this file never stored, and
   * a seq must never be given twice.
   */
  ensureSeqsAbove(lastSeqs: ReadonlyMap<string, number>): void {
    const behind = [...lastSeqs].filter(([id, seq]) => this.sequences.last(id) < seq);
    if (behind.length === 0) return;
    this.store.atomically(() => {
      for (const [id, seq] of behind) this.sequences.save(id, seq);
    });
    this.walSync?.syncNow();
  }

  /**
   * Sets each container's last seq to exactly the given one, giving back seqs reserved ahead
   * (write-behind) but never used, so a graceful restart leaves no gap: only when no seq above
   * them was given out or stored.
   */
  settleSeqs(lastSeqs: ReadonlyMap<string, number>): void {
    this.store.atomically(() => {
      for (const [id, seq] of lastSeqs) this.sequences.settle(id, seq);
    });
    this.walSync?.syncNow();
  }

  /**
   * Commits one tick: readings (with their seqs), alerts and the fate of held readings in one
   * transaction, then applies the disk budget. On return the rows are durable (per the configured
   * durability); if it throws, nothing of the batch was captured. A full disk is met by evicting
   * the oldest telemetry and trying once more; DiskFullError if even that does not fit.
   */
  commit(batch: CaptureBatch): CaptureResult {
    try {
      const result = this.commitOnce(batch);
      this.walSync?.request(this.store.lastInsertedId);
      this.budget.restoreReserve();
      return result;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      const evicted = this.budget.makeRoom();
      try {
        const result = this.commitOnce(batch);
        this.walSync?.request(this.store.lastInsertedId);
        return { ...result, evictedTelemetry: result.evictedTelemetry + evicted, diskFull: true };
      } catch (again) {
        if (isDiskFull(again))
          throw new DiskFullError(batch.readings?.length ?? 0, batch.alerts?.length ?? 0);
        throw again;
      }
    }
  }

  /** Sequences and commits readings and alerts: `commit` for callers with nothing else to do. */
  capture(
    readings: readonly UnsequencedReading[],
    alerts: readonly AlertDraft[] = [],
    held?: readonly boolean[],
  ): CaptureResult {
    return this.commit({ readings: this.nextSeqs(readings), alerts, ...(held && { held }) });
  }

  private commitOnce(batch: CaptureBatch): CaptureResult {
    const store = this.store;
    return store.atomically(() => {
      const capturedAt = Math.floor(this.options.now());
      const readings = batch.readings ?? [];
      const epoch = batch.clockEpoch ?? null;
      const rowIds: number[] = [];
      const trail = this.trail;
      const stored: ReeferReading[] = [];
      for (const [i, reading] of readings.entries()) {
        this.sequences.save(reading.container_id, reading.seq);
        const lane = batch.held?.[i] === true ? LANE.held : LANE.telemetry;
        // Stamped in memory already (write-behind, `stampAhead`): stored as it was published.
        const stampable = trail && batch.unlogged?.[i] !== true && !(LOG_INDEX_FIELD in reading);
        const logged = stampable ? trail.stamp(reading) : null;
        stored.push(logged?.record ?? reading);
        // What the agent reports captured is byte for byte what it stores and publishes: a
        // logged reading's keys are in canonical order, and its JSON is its leaf's text.
        const payload = logged?.payload ?? JSON.stringify(reading);
        rowIds.push(
          store.insert(lane, reading.container_id, reading.seq, capturedAt, payload, epoch),
        );
      }
      // Alerts are leaves of the log too (a deleted one is a hole), stored as stamped.
      for (const [i, alert] of (batch.alerts ?? []).entries()) {
        const logged =
          trail && batch.unloggedAlerts?.[i] !== true ? trail.stamp(alert.payload) : null;
        const payload = logged?.payload ?? JSON.stringify(alert.payload);
        store.insert(LANE.alert, alert.containerId, null, capturedAt, payload, null);
      }
      resolveHeld(this.store, this.sessions, this.trail, batch);
      return { readings: stored, rowIds, ...this.budget.enforce() };
    });
  }

  beginSession(): void {
    this.sessions.beginSession();
  }

  /**
   * Rows the publisher already has in flight under other ids (write-behind: sent from memory,
   * then stored): not taken again unless released.
   */
  markInFlight(ids: readonly number[]): void {
    this.sessions.markInFlight(ids);
  }

  takeAlerts(limit: number): OutboxRow[] {
    return this.sessions.takeAlerts(limit);
  }

  takeLive(limit: number): OutboxRow[] {
    return this.sessions.takeLive(limit);
  }

  takeBackfill(maxBytes: number, maxRows: number, perRowBytes = 0): OutboxRow[] {
    return this.sessions.takeBackfill(maxBytes, maxRows, perRowBytes);
  }

  accept(ids: readonly number[]): void {
    // Deleted with the next capture's commit (AcknowledgedRows); with syncAcknowledgements (write-
    // behind: commits are rare) at once, and synced soon.
    const now = this.options.syncAcknowledgements === true;
    this.sessions.accept(ids, this.options.durability === "full" && this.walSync === null, !now);
    if (now) this.walSync?.soon();
  }

  reject(ids: readonly number[], reason: string): void {
    if (!this.trail) {
      this.sessions.reject(ids, reason);
      return;
    }
    this.store.atomically(() => {
      for (const id of ids) this.declareDropped(id, "dead_letter");
      this.sessions.reject(ids, reason);
    });
  }

  /** A stored row leaves undelivered: the audit log declares it (inside the transaction). */
  private declareDropped(id: number, reason: "evicted" | "dead_letter"): void {
    const trail = this.trail;
    if (!trail) return;
    const row = this.store.statements.payloadOf.get(id);
    if (row) trail.dropping(row.payload, reason);
  }

  /**
   * The cold-chain audit log (`audit` option), for its checkpoints: signing them, and the
   * checkpoints and gap records waiting for the broker. Null when no log is kept.
   */
  get audit(): AuditTrail | null {
    return this.trail;
  }

  release(rows: readonly OutboxRow[]): void {
    this.sessions.release(rows);
  }

  pending(): { alerts: number; telemetry: number } {
    const { rows } = this.store.tally;
    return { alerts: rows.alert, telemetry: rows.telemetry };
  }

  /**
   * The clock became trustworthy: readings of `epoch` still here get their measurement_time moved
   * by `deltaMs` and are marked "synced". Returns how many were corrected.
   */
  correctClock(epoch: number, deltaMs: number): number {
    const corrected = this.store.atomically(() => rewriteEpoch(this.store, epoch, deltaMs));
    // A rewrite that reached the broker but not the disk would come back after a power cut with
    // the old time: one (container_id, seq), two readings. Corrections are rare (once a boot):
    // the WAL is synced here, before the publisher can take a corrected row.
    this.walSync?.syncNow();
    return corrected;
  }

  /** Rows taken and neither accepted, rejected nor released yet. */
  get inflightCount(): number {
    return this.sessions.inflightCount;
  }

  stats(): OutboxStats {
    return this.store.stats();
  }

  /** When the oldest row still waiting was captured (wall ms); null when the outbox is empty. */
  oldestCapturedAt(): number | null {
    return this.sessions.oldestCapturedAt();
  }

  /** Runs a read-only query on the outbox database (tools and tests), acknowledged rows gone. */
  query<T>(sql: string, ...params: unknown[]): T[] {
    this.sessions.flushAcknowledged();
    return this.db.prepare(sql).all(...params) as T[];
  }

  close(): void {
    try {
      this.sessions.flushAcknowledged();
    } catch {
      // Not deleted (a failing disk): sent again from the next start, duplicates, never a loss.
    }
    this.walSync?.close();
    try {
      this.lock?.release();
    } finally {
      // Always closed, whatever failed before (a card gone read-only): a handle left open would
      // keep the file system from being checked and mounted again. SQLite's close checkpoints
      // the WAL into the database and syncs both: what waited for the background sync is
      // durable now.
      if (this.db.open) this.db.close();
      this.waiting.all();
      try {
        this.reserve.release();
      } catch {
        // read-only or gone: the reserve file stays, which costs nothing
      }
    }
  }
}
