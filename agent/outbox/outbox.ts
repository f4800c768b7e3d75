import type { OutboxStats } from "../../core/gateway-status.js";
import type Database from "better-sqlite3";
import { dirname } from "node:path";
import type { ReeferReading, UnsequencedReading } from "../../core/record.js";
import { DiskBudget } from "./budget.js";
import { openOutboxDatabase, type Durability, type Recovery } from "./database.js";
import type { AttachedLock } from "./outbox-lock.js";
import { LANE, type OutboxRow, type PublishQueue } from "./publish-queue.js";
import { Sequences } from "./sequences.js";
import { PublishSessions } from "./sessions.js";
import { SpaceReserve } from "./space-reserve.js";
import { OutboxStore } from "./store.js";
import { WalSync } from "./wal-sync.js";
import { DiskFullError, isDiskFull } from "./disk-full.js";
import { AuditTrail } from "./audit-trail.js";
import { CLOCK_CORRECTION_FIELD, LOG_INDEX_FIELD } from "../../core/audit/leaf.js";

export { LANE, type Lane, type OutboxRow } from "./publish-queue.js";
export { DiskFullError } from "./disk-full.js";
export { ROW_OVERHEAD_BYTES } from "./tally.js";

/** An alert to capture: any JSON object about one container. */
export interface AlertDraft {
  readonly containerId: string;
  readonly payload: object;
}

export interface OutboxOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly durability: Durability;
  /** SQLite's page cache, KiB (4000 when not given). */
  readonly cacheKiB?: number;
  /** The full-disk reserve file beside the database, KiB (512 when not given; 0: none). */
  readonly reserveKiB?: number;
  /** Wall clock, for `captured_at` and dead-letter times. */
  readonly now: () => number;
  /**
   * With `full` durability: sync the WAL off the event loop (WalSync) instead of inside each
   * commit. Rows reach the publisher, and `afterDurable` callbacks run, once they are synced.
   */
  readonly backgroundSync?: boolean;
  /**
   * With a background sync: sync acknowledgements' deletes too (in the background, coalesced).
   * Without, they become durable with the next capture's sync, a tick later; under write-behind
   * there may be none for long, and a power cut would send a whole drain again.
   */
  readonly syncAcknowledgements?: boolean;
  /** A background fdatasync failed; its rows are published anyway (see WalSync). */
  readonly onSyncError?: (error: Error) => void;
  /** How long each fdatasync of the WAL took, seconds (see WalSync). */
  readonly onSyncTimed?: (seconds: number) => void;
  /**
   * Keep the cold-chain audit log (docs/audit-log.md) of this gateway: readings are stamped and
   * appended as they commit, and what leaves undelivered is declared in gap records.
   */
  readonly audit?: { readonly gatewayId: string };
}

/** Everything one tick commits, in one transaction. */
export interface CaptureBatch {
  /** Readings with the seqs `nextSeqs` gave them. */
  readonly readings?: readonly ReeferReading[];
  /** Per reading: held back by report by exception (lane held) instead of published. */
  readonly held?: readonly boolean[];
  readonly alerts?: readonly AlertDraft[];
  /** Held readings to publish after all, by container and seq. */
  readonly promote?: ReadonlyMap<string, readonly number[]>;
  /** Held readings not to publish: deleted and counted. */
  readonly drop?: ReadonlyMap<string, readonly number[]>;
  /**
   * Per reading: stored outside the audit log, because a copy may already have left from memory
   * without its log index (write-behind) and its acknowledgement may delete this row unsent.
   */
  readonly unlogged?: readonly boolean[];
  /** The clock epoch of the readings, while the clock is not trusted (see ClockGuard). */
  readonly clockEpoch?: number | null;
}

/** What one commit did to the budget, for the caller's log and metrics. */
export interface CaptureResult {
  readonly readings: readonly ReeferReading[];
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
  /** The disk was full and room was made by evicting (counted in evictedTelemetry). */
  readonly diskFull?: boolean;
  /** The outbox's row id of each reading, in the batch's order. */
  readonly rowIds?: readonly number[];
}

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
  /** Callbacks waiting for rows up to `id` to be durable, in commit order. */
  private waiting: { id: number; run: () => void }[] = [];

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
    // Held readings whose fate died with the last process are published: more, never less.
    statements.promoteAllHeld.run();
    // Clock epochs belong to one process (the monotonic clock restarts): readings of an earlier
    // process that never saw a synchronized clock cannot be corrected and stay "unsynced".
    statements.forgetEpochs.run();
    store.recount();
    this.store = store;
    this.sequences = new Sequences(statements, statements.seqBase.get()?.value ?? 0);
    store.onRollback(() => this.sequences.forgetCache());
    if (options.audit) {
      const trail = new AuditTrail(
        this.db,
        options.audit.gatewayId,
        options.now,
        (work) => store.atomically(work),
        () => this.walSync?.soon(),
        store.tally,
      );
      store.onRollback(() => trail.rolledBack());
      store.beforeCommit(() => trail.settle());
      this.trail = trail;
    }
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
    const sync = this.walSync;
    if (!sync?.pending) {
      callback();
      return;
    }
    this.waiting.push({ id: this.store.lastInsertedId, run: callback });
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
    if (this.waiting.length === 0) return;
    const due = this.waiting.filter((w) => w.id <= id);
    this.waiting = this.waiting.filter((w) => w.id > id);
    for (const w of due) w.run();
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
        const logged = trail && batch.unlogged?.[i] !== true ? trail.stamp(reading) : null;
        stored.push(logged?.record ?? reading);
        // What the agent reports captured is byte for byte what it stores and publishes: a
        // logged reading's keys are in canonical order, and its JSON is its leaf's text.
        const payload = logged?.payload ?? JSON.stringify(reading);
        rowIds.push(
          store.insert(lane, reading.container_id, reading.seq, capturedAt, payload, epoch),
        );
      }
      for (const alert of batch.alerts ?? []) {
        store.insert(
          LANE.alert,
          alert.containerId,
          null,
          capturedAt,
          JSON.stringify(alert.payload),
          null,
        );
      }
      this.resolveHeld(batch);
      return { readings: stored, rowIds, ...this.budget.enforce() };
    });
  }

  /** Promotes or drops held readings; inside the commit's transaction. */
  private resolveHeld(batch: CaptureBatch): void {
    const { statements, tally } = this.store;
    for (const [containerId, seqs] of batch.promote ?? []) {
      for (const seq of seqs) {
        const row = statements.promoteHeld.get(containerId, seq);
        if (!row) continue; // evicted meanwhile
        tally.forget(LANE.held, row.bytes);
        tally.remember(LANE.telemetry, row.bytes);
        // Make the row visible to the lane it now belongs to.
        this.sessions.reveal(row.id, LANE.telemetry, containerId);
      }
    }
    let dropped = 0;
    for (const [containerId, seqs] of batch.drop ?? []) {
      for (const seq of seqs) {
        const row = statements.dropHeld.get(containerId, seq);
        if (!row) continue;
        tally.forget(LANE.held, row.bytes);
        this.trail?.dropping(row.payload, "dropped_by_exception");
        dropped++;
      }
    }
    this.store.count("dropped_by_exception", dropped);
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
    // A delete needs no sync of its own (see PublishSessions.accept): a lost one sends a row
    // again, never loses it. With a background sync the connection is at synchronous=NORMAL
    // already, and the next capture's sync carries the deletes along; under write-behind no
    // capture commit may follow for a while, so syncAcknowledgements asks a sync soon instead.
    this.sessions.accept(ids, this.options.durability === "full" && this.walSync === null);
    if (this.options.syncAcknowledgements === true) this.walSync?.soon();
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
    const { statements, tally } = this.store;
    const corrected = this.store.atomically(() => {
      let corrected = 0;
      const rewrite = statements.rewrite; // transient: one statement for the whole loop
      for (const row of statements.epochRows.all(epoch)) {
        const reading = JSON.parse(row.payload) as ReeferReading;
        const before = Date.parse(reading.measurement_time);
        const moved = new Date(before + deltaMs);
        reading.measurement_time = moved.toISOString();
        reading.clock = "synced";
        // A logged reading names the shift (whole ms, as the time moved), so the reading its leaf
        // holds can be recomputed.
        if (LOG_INDEX_FIELD in reading)
          (reading as ReeferReading & Record<string, unknown>)[CLOCK_CORRECTION_FIELD] =
            moved.getTime() - before;
        const payload = JSON.stringify(reading);
        const bytes = Buffer.byteLength(payload);
        rewrite.run(payload, bytes, row.id);
        tally.forget(row.lane as typeof LANE.telemetry, row.bytes);
        tally.remember(row.lane as typeof LANE.telemetry, bytes);
        corrected++;
      }
      return corrected;
    });
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
    const { rows, bytes } = this.store.tally;
    const counter = (name: string) => this.store.counter(name);
    return {
      alerts: rows.alert,
      telemetry: rows.telemetry,
      held: rows.held,
      bytes,
      evictedTelemetry: counter("evicted_telemetry"),
      evictedAlerts: counter("evicted_alert"),
      deadLettered: counter("dead_lettered"),
      droppedByException: counter("dropped_by_exception"),
      diskFullEvents: counter("disk_full"),
    };
  }

  /** When the oldest row still waiting was captured (wall ms); null when the outbox is empty. */
  oldestCapturedAt(): number | null {
    return this.store.statements.oldest.get()?.captured_at ?? null;
  }

  /** Runs a read-only query on the outbox database (tools and tests). */
  query<T>(sql: string, ...params: unknown[]): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }

  close(): void {
    this.walSync?.close();
    try {
      this.lock?.release();
    } finally {
      // Always closed, whatever failed before (a card gone read-only): a handle left open would
      // keep the file system from being checked and mounted again. SQLite's close checkpoints
      // the WAL into the database and syncs both: what waited for the background sync is
      // durable now.
      if (this.db.open) this.db.close();
      const waiting = this.waiting;
      this.waiting = [];
      for (const w of waiting) w.run();
      try {
        this.reserve.release();
      } catch {
        // read-only or gone: the reserve file stays, which costs nothing
      }
    }
  }
}
