import type Database from "better-sqlite3";
import type { ReeferReading, UnsequencedReading } from "../record.js";
import { openOutboxDatabase, type Durability, type Recovery } from "./database.js";
import { OutboxLock } from "./outbox-lock.js";
import { SpaceReserve } from "./space-reserve.js";

/**
 * alert: alert records, sent first. telemetry: readings to publish. held: readings report by
 * exception did not publish at once; the agent promotes them to telemetry or drops them (counted)
 * when their window closes, and a restart promotes any left over.
 */
export const LANE = { alert: 0, telemetry: 1, held: 2 } as const;
export type Lane = (typeof LANE)[keyof typeof LANE];

/**
 * Bytes counted per row on top of its payload for the disk budget: the row's other columns,
 * index entries and page slack. An estimate, so `maxBytes` bounds the database file closely
 * rather than exactly.
 */
export const ROW_OVERHEAD_BYTES = 64;

/** An alert to capture: any JSON object about one container. */
export interface AlertDraft {
  readonly containerId: string;
  readonly payload: object;
}

/** A captured row, as handed to the publisher. */
export interface OutboxRow {
  readonly id: number;
  readonly lane: Lane;
  readonly containerId: string;
  readonly seq: number | null;
  readonly capturedAt: number;
  readonly bytes: number;
  readonly payload: string;
}

export interface OutboxStats {
  readonly alerts: number;
  readonly telemetry: number;
  readonly held: number;
  readonly bytes: number;
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
  readonly deadLettered: number;
  readonly droppedByException: number;
  /** Times the disk was found full while capturing. */
  readonly diskFullEvents: number;
}

export interface OutboxOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly durability: Durability;
  /** Wall clock, for `captured_at` and dead-letter times. */
  readonly now: () => number;
}

interface RowRecord {
  id: number;
  lane: number;
  container_id: string;
  seq: number | null;
  captured_at: number;
  bytes: number;
  payload: string;
}

/** What one capture did to the budget, for the caller's log and metrics. */
export interface CaptureResult {
  readonly readings: readonly ReeferReading[];
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
  /** The disk was full and room was made by evicting (counted in evictedTelemetry). */
  readonly diskFull?: boolean;
}

/**
 * The durable outbox (docs/wire-contract.md, "What the outbox promises"). A reading is captured once its
 * transaction commits. Rows leave only when the broker acknowledged them (`accept`), when they
 * are refused for good (`reject`, into `dead_letter`), or when the disk budget evicts them
 * (oldest telemetry first, alerts last), and every such exit is counted durably.
 *
 * Reading follows Telegraf's buffer transactions: the publisher takes rows, then accepts,
 * rejects or releases each. Taken rows stay in the database until then, so a crash at any moment
 * re-sends them (at least once). Lanes: alerts first, then live telemetry, then backfill, which
 * is the telemetry captured before the current connection began (`beginSession`).
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly inflight = new Set<number>();
  /** The highest row id inserted (AUTOINCREMENT: never reused, even after a rollback). */
  private lastInsertedId = 0;
  /** Last seq per container, as committed; read from `sequences` on first use. */
  private readonly seqCache = new Map<string, number>();
  private rows = { alert: 0, telemetry: 0, held: 0 };
  private bytes = 0;
  private session = { boundary: 0, alertCursor: 0, liveCursor: 0 };
  private backfillCursors = new Map<string, number>();

  /** Set when the database file was corrupt at start and a fresh one replaced it. */
  readonly recovery: Recovery | null;
  private readonly reserve: SpaceReserve;
  private readonly seqBase: number;
  private readonly lock: OutboxLock | null;

  constructor(private readonly options: OutboxOptions) {
    // The lock comes first: a second agent must not even look at (or move aside) a live outbox.
    this.lock =
      options.path === ":memory:" ? null : OutboxLock.acquire(options.path, options.now());
    let opened: ReturnType<typeof openOutboxDatabase>;
    try {
      opened = openOutboxDatabase(options.path, options.durability, Math.floor(options.now()));
    } catch (error) {
      this.lock?.release();
      throw error;
    }
    this.db = opened.db;
    this.recovery = opened.recovery;
    this.reserve = new SpaceReserve(
      `${options.path}.reserve`,
      options.path === ":memory:" ? 0 : RESERVE_BYTES,
    );
    this.reserve.take();
    const db = this.db;
    this.seqBase =
      db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'seq_base'").get()
        ?.value ?? 0;
    this.statements = {
      lastSeq: db.prepare<[string], { last_seq: number }>(
        "SELECT last_seq FROM sequences WHERE container_id = ?",
      ),
      saveSeq: db.prepare(
        "INSERT INTO sequences (container_id, last_seq) VALUES (?, ?) ON CONFLICT (container_id) DO UPDATE SET last_seq = excluded.last_seq",
      ),
      insert: db.prepare(
        "INSERT INTO outbox (lane, container_id, seq, captured_at, bytes, payload, clock_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      epochRows: db.prepare<[number], { id: number; lane: number; bytes: number; payload: string }>(
        "SELECT id, lane, bytes, payload FROM outbox WHERE clock_epoch = ?",
      ),
      rewrite: db.prepare(
        "UPDATE outbox SET payload = ?, bytes = ?, clock_epoch = NULL WHERE id = ?",
      ),
      oldestOfLane: db.prepare<[number, number], { id: number; bytes: number }>(
        "SELECT id, bytes FROM outbox WHERE lane = ? ORDER BY id LIMIT ?",
      ),
      deleteReturning: db.prepare<[number], { lane: number; bytes: number }>(
        "DELETE FROM outbox WHERE id = ? RETURNING lane, bytes",
      ),
      laneAfter: db.prepare<[number, number, number, number], RowRecord>(
        "SELECT * FROM outbox WHERE lane = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
      ),
      containerAfter: db.prepare<[string, number, number, number], RowRecord>(
        "SELECT * FROM outbox WHERE lane = 1 AND container_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
      ),
      backlogContainers: db.prepare<[number], { container_id: string }>(
        "SELECT DISTINCT container_id FROM outbox WHERE lane = 1 AND id <= ? ORDER BY container_id",
      ),
      maxId: db.prepare<[], { id: number | null }>("SELECT MAX(id) AS id FROM outbox"),
      deadLetter: db.prepare(
        "INSERT INTO dead_letter (lane, container_id, seq, captured_at, payload, reason, failed_at) SELECT lane, container_id, seq, captured_at, payload, ?, ? FROM outbox WHERE id = ?",
      ),
      bumpCounter: db.prepare(
        "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
      ),
      counter: db.prepare<[string], { value: number }>("SELECT value FROM counters WHERE name = ?"),
      promoteHeld: db.prepare<[string, number], { id: number; bytes: number }>(
        "UPDATE outbox SET lane = 1 WHERE lane = 2 AND container_id = ? AND seq = ? RETURNING id, bytes",
      ),
      dropHeld: db.prepare<[string, number], { bytes: number }>(
        "DELETE FROM outbox WHERE lane = 2 AND container_id = ? AND seq = ? RETURNING bytes",
      ),
      promoteAllHeld: db.prepare("UPDATE outbox SET lane = 1 WHERE lane = 2"),
      totals: db.prepare<[], { lane: number; n: number; bytes: number }>(
        "SELECT lane, COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM outbox GROUP BY lane",
      ),
    };
    // Held readings whose fate died with the last process are published: more, never less.
    this.statements.promoteAllHeld.run();
    // Clock epochs belong to one process (the monotonic clock restarts): readings of an earlier
    // process that never saw a synchronized clock cannot be corrected and stay "unsynced".
    db.prepare("UPDATE outbox SET clock_epoch = NULL WHERE clock_epoch IS NOT NULL").run();
    this.recount();
    this.lastInsertedId = this.statements.maxId.get()?.id ?? 0;
  }

  /**
   * Captures one tick: gives each reading the next `seq` of its container and commits readings,
   * alerts and sequence numbers in one transaction, then applies the disk budget. On return the
   * rows are durable (per the configured durability); if it throws, nothing of the tick was
   * captured.
   */
  capture(
    readings: readonly UnsequencedReading[],
    alerts: readonly AlertDraft[] = [],
    held?: readonly boolean[],
    clockEpoch: number | null = null,
  ): CaptureResult {
    try {
      const result = this.captureOnce(readings, alerts, held, clockEpoch);
      this.restoreReserve();
      return result;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.makeRoom();
      try {
        const result = this.captureOnce(readings, alerts, held, clockEpoch);
        return {
          ...result,
          evictedTelemetry: result.evictedTelemetry + this.lastDiskFullEvictions,
          diskFull: true,
        };
      } catch (again) {
        if (isDiskFull(again)) throw new DiskFullError(readings.length, alerts.length);
        throw again;
      }
    }
  }

  private captureOnce(
    readings: readonly UnsequencedReading[],
    alerts: readonly AlertDraft[],
    held: readonly boolean[] | undefined,
    clockEpoch: number | null,
  ): CaptureResult {
    return this.atomically(() => {
      const capturedAt = Math.floor(this.options.now());
      const sequenced: ReeferReading[] = [];
      for (const [i, reading] of readings.entries()) {
        const seq = this.lastSeq(reading.container_id) + 1;
        this.statements.saveSeq.run(reading.container_id, seq);
        this.seqCache.set(reading.container_id, seq);
        const record: ReeferReading = { ...reading, seq };
        const lane = held?.[i] === true ? LANE.held : LANE.telemetry;
        this.insert(
          lane,
          reading.container_id,
          seq,
          capturedAt,
          JSON.stringify(record),
          clockEpoch,
        );
        sequenced.push(record);
      }
      for (const alert of alerts) {
        this.insert(
          LANE.alert,
          alert.containerId,
          null,
          capturedAt,
          JSON.stringify(alert.payload),
          null,
        );
      }
      const evicted = this.enforceBudget();
      return { readings: sequenced, ...evicted };
    });
  }

  /**
   * Starts a publishing session (a new broker connection): everything not yet acknowledged is
   * pending again, and the telemetry captured so far becomes backfill.
   */
  beginSession(): void {
    this.inflight.clear();
    const boundary = this.statements.maxId.get()?.id ?? 0;
    this.session = { boundary, alertCursor: 0, liveCursor: boundary };
    this.backfillCursors = new Map(
      this.statements.backlogContainers.all(boundary).map((r) => [r.container_id, 0]),
    );
  }

  /** Up to `limit` alerts not yet taken, oldest first. */
  takeAlerts(limit: number): OutboxRow[] {
    if (this.rows.alert === 0) return []; // the common case, without a query
    const rows = this.scan(
      (after, n) => this.statements.laneAfter.all(LANE.alert, after, Number.MAX_SAFE_INTEGER, n),
      this.session.alertCursor,
      limit,
    );
    this.session.alertCursor = lastId(rows, this.session.alertCursor);
    return this.markTaken(rows);
  }

  /** Up to `limit` live readings (captured during this session) not yet taken, oldest first. */
  takeLive(limit: number): OutboxRow[] {
    if (this.session.liveCursor >= this.lastInsertedId) return []; // nothing new, without a query
    const rows = this.scan(
      (after, n) =>
        this.statements.laneAfter.all(LANE.telemetry, after, Number.MAX_SAFE_INTEGER, n),
      this.session.liveCursor,
      limit,
    );
    this.session.liveCursor = lastId(rows, this.session.liveCursor);
    return this.markTaken(rows);
  }

  /**
   * The next backfill batch: the oldest untaken backlog of one container (containers take turns),
   * as many rows as fit in `maxBytes` (payloads plus `perRowBytes` each) and `maxRows`. Empty
   * when the backlog is drained.
   */
  takeBackfill(maxBytes: number, maxRows: number, perRowBytes = 0): OutboxRow[] {
    for (const containerId of [...this.backfillCursors.keys()]) {
      const cursor = this.backfillCursors.get(containerId) ?? 0;
      const batch: RowRecord[] = [];
      let size = 0;
      let after = cursor;
      // Read in pages sized by how many more rows seem to fit, so a small envelope reads few rows.
      let pageRows = 8;
      fill: while (batch.length < maxRows) {
        const want = Math.min(pageRows, maxRows - batch.length);
        const page = this.scan(
          (from, n) =>
            this.statements.containerAfter.all(containerId, from, this.session.boundary, n),
          after,
          want,
        );
        for (const row of page) {
          if (batch.length > 0 && size + row.bytes + perRowBytes > maxBytes) break fill;
          batch.push(row);
          size += row.bytes + perRowBytes;
        }
        if (page.length < want) break; // the container's backlog ends here
        after = lastId(page, after);
        const perRow = size / batch.length;
        pageRows = Math.max(8, Math.ceil(((maxBytes - size) / perRow) * 1.1));
      }
      // Round robin: this container goes to the back of the queue.
      this.backfillCursors.delete(containerId);
      if (batch.length === 0) continue; // drained (or all in flight): drop it
      this.backfillCursors.set(containerId, lastId(batch, cursor));
      return this.markTaken(batch);
    }
    return [];
  }

  /**
   * The broker acknowledged these rows: they leave the outbox. The delete commits without its own
   * fsync: losing it to a power cut means the rows are sent again (a duplicate, which consumers
   * drop by container_id and seq), never that a reading is lost. The next capture's synchronous
   * commit makes it durable anyway. This keeps a drain from being one fsync per PUBACK.
   */
  accept(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const relax = this.options.durability === "full";
    if (relax) this.db.pragma("synchronous = NORMAL");
    try {
      this.atomically(() => {
        for (const id of ids) {
          this.inflight.delete(id);
          const gone = this.statements.deleteReturning.get(id);
          if (gone) this.forget(gone.lane as Lane, gone.bytes);
        }
      });
    } finally {
      if (relax) this.db.pragma("synchronous = FULL");
    }
  }

  /** Held readings that turned out to matter (their window had readings over the threshold). */
  promoteHeld(containerId: string, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.atomically(() => {
      for (const seq of seqs) {
        const row = this.statements.promoteHeld.get(containerId, seq);
        if (!row) continue; // evicted meanwhile
        this.forget(LANE.held, row.bytes);
        this.remember(LANE.telemetry, row.bytes);
        // Make the row visible to the lane it now belongs to.
        if (row.id > this.session.boundary) {
          this.session.liveCursor = Math.min(this.session.liveCursor, row.id - 1);
        } else {
          const cursor = this.backfillCursors.get(containerId) ?? Number.MAX_SAFE_INTEGER;
          this.backfillCursors.set(containerId, Math.min(cursor, row.id - 1));
        }
      }
    });
  }

  /** Held readings report by exception decided not to publish: deleted, and counted. */
  dropHeld(containerId: string, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.atomically(() => {
      let dropped = 0;
      for (const seq of seqs) {
        const row = this.statements.dropHeld.get(containerId, seq);
        if (!row) continue;
        this.forget(LANE.held, row.bytes);
        dropped++;
      }
      this.statements.bumpCounter.run("dropped_by_exception", dropped);
    });
  }

  /**
   * The clock became trustworthy: readings of `epoch` still here get their measurement_time moved
   * by `deltaMs` and are marked "synced". Returns how many were corrected.
   */
  correctClock(epoch: number, deltaMs: number): number {
    return this.atomically(() => {
      let corrected = 0;
      for (const row of this.statements.epochRows.all(epoch)) {
        const reading = JSON.parse(row.payload) as ReeferReading;
        reading.measurement_time = new Date(
          Date.parse(reading.measurement_time) + deltaMs,
        ).toISOString();
        reading.clock = "synced";
        const payload = JSON.stringify(reading);
        const bytes = Buffer.byteLength(payload);
        this.statements.rewrite.run(payload, bytes, row.id);
        this.forget(row.lane as Lane, row.bytes);
        this.remember(row.lane as Lane, bytes);
        corrected++;
      }
      return corrected;
    });
  }

  /** Refused for good (not authorized, too large): moved to `dead_letter` with the reason. */
  reject(ids: readonly number[], reason: string): void {
    if (ids.length === 0) return;
    const failedAt = Math.floor(this.options.now());
    this.atomically(() => {
      let moved = 0;
      for (const id of ids) {
        this.inflight.delete(id);
        this.statements.deadLetter.run(reason, failedAt, id);
        const gone = this.statements.deleteReturning.get(id);
        if (gone) {
          this.forget(gone.lane as Lane, gone.bytes);
          moved++;
        }
      }
      this.statements.bumpCounter.run("dead_lettered", moved);
    });
  }

  /** Not delivered this time (no ack before the link dropped): they will be taken again. */
  release(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      this.inflight.delete(row.id);
      if (row.lane === LANE.alert) {
        this.session.alertCursor = Math.min(this.session.alertCursor, row.id - 1);
      } else if (row.id > this.session.boundary) {
        this.session.liveCursor = Math.min(this.session.liveCursor, row.id - 1);
      } else {
        const cursor = this.backfillCursors.get(row.containerId) ?? Number.MAX_SAFE_INTEGER;
        this.backfillCursors.set(row.containerId, Math.min(cursor, row.id - 1));
      }
    }
  }

  /** Rows taken and neither accepted, rejected nor released yet. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  stats(): OutboxStats {
    const counter = (name: string) => this.statements.counter.get(name)?.value ?? 0;
    return {
      alerts: this.rows.alert,
      telemetry: this.rows.telemetry,
      held: this.rows.held,
      bytes: this.bytes,
      evictedTelemetry: counter("evicted_telemetry"),
      evictedAlerts: counter("evicted_alert"),
      deadLettered: counter("dead_lettered"),
      droppedByException: counter("dropped_by_exception"),
      diskFullEvents: counter("disk_full"),
    };
  }

  /** Runs a read-only query on the outbox database (tools and tests). */
  query<T>(sql: string, ...params: unknown[]): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.reserve.release();
    this.lock?.release();
  }

  /**
   * Runs `work` in one transaction. The in-memory row and byte counts follow each statement, so
   * when the transaction rolls back they are recounted from the database.
   */
  private atomically<T>(work: () => T): T {
    try {
      return this.db.transaction(work)();
    } catch (error) {
      // The cached sequence numbers may be ahead of what rolled back.
      this.seqCache.clear();
      if (this.db.open) this.recount();
      throw error;
    }
  }

  private lastSeq(containerId: string): number {
    let seq = this.seqCache.get(containerId);
    if (seq === undefined) {
      seq = this.statements.lastSeq.get(containerId)?.last_seq ?? this.seqBase;
      this.seqCache.set(containerId, seq);
    }
    return seq;
  }

  private insert(
    lane: Lane,
    containerId: string,
    seq: number | null,
    at: number,
    payload: string,
    clockEpoch: number | null,
  ): void {
    const bytes = Buffer.byteLength(payload);
    const { lastInsertRowid } = this.statements.insert.run(
      lane,
      containerId,
      seq,
      at,
      bytes,
      payload,
      clockEpoch,
    );
    this.lastInsertedId = Number(lastInsertRowid);
    this.remember(lane, bytes);
  }

  /** Evicts oldest telemetry, then oldest alerts, until the outbox fits its budget. */
  private enforceBudget(): { evictedTelemetry: number; evictedAlerts: number } {
    const budget = this.budget;
    const evictedTelemetry = this.evict(LANE.held, budget) + this.evict(LANE.telemetry, budget);
    // Alerts yield only to the configured budget, never to the caution after a full disk.
    const evictedAlerts = this.evict(LANE.alert, this.options.maxBytes);
    if (evictedTelemetry > 0)
      this.statements.bumpCounter.run("evicted_telemetry", evictedTelemetry);
    if (evictedAlerts > 0) this.statements.bumpCounter.run("evicted_alert", evictedAlerts);
    return { evictedTelemetry, evictedAlerts };
  }

  /**
   * The disk is full: give the WAL's space back to the file system, evict the oldest telemetry
   * (a tenth of it, at least 100 rows), and hold the budget below what fitted for a minute, so
   * the outbox settles under what the disk can hold. Counted as evictions, like the budget's.
   */
  private makeRoom(): void {
    // Give back the reserve first: on a full disk even a delete needs space in the WAL, and a
    // checkpoint may need to grow the file.
    this.reserve.release();
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Best effort: eviction below may still fit in the space the reserve gave back.
    }
    this.diskFullSince = this.options.now();
    this.budgetCap = Math.floor(this.bytes * 0.9);
    // Small transactions, each followed by a checkpoint: a large delete would itself need more
    // WAL than a full disk can give.
    const target = Math.max(100, Math.floor((this.rows.telemetry + this.rows.held) / 10));
    let evicted = 0;
    while (evicted < target) {
      let chunk = 0;
      try {
        chunk = this.atomically(() => {
          let n = 0;
          for (const lane of [LANE.held, LANE.telemetry]) {
            for (const victim of this.statements.oldestOfLane.all(
              lane,
              Math.min(50, target - evicted) - n,
            )) {
              this.statements.deleteReturning.get(victim.id);
              this.inflight.delete(victim.id);
              this.forget(lane, victim.bytes);
              n++;
            }
          }
          this.statements.bumpCounter.run("evicted_telemetry", n);
          return n;
        });
        this.db.pragma("wal_checkpoint(TRUNCATE)");
        // Hand the freed pages back to the file system: deleting rows alone does not shrink the file.
        this.db.pragma("incremental_vacuum");
        this.db.pragma("wal_checkpoint(TRUNCATE)");
      } catch {
        break; // no room even for that: the capture retry will say so
      }
      if (chunk === 0) break;
      evicted += chunk;
    }
    try {
      this.statements.bumpCounter.run("disk_full", 1);
    } catch {
      // counted in metrics by the caller anyway
    }
    this.lastDiskFullEvictions = evicted;
  }

  /** Re-takes the reserve once there is room again (tried after each capture while it is out). */
  private restoreReserve(): void {
    if (this.reserve.held || this.options.now() - this.diskFullSince < DISK_FULL_HOLD_MS) return;
    this.reserve.take();
  }

  /** Rows evicted by the last disk-full recovery, for the caller's log. */
  lastDiskFullEvictions = 0;
  private diskFullSince = Number.NEGATIVE_INFINITY;
  private budgetCap = Number.POSITIVE_INFINITY;

  /** The budget in force: the configured one, or lower for a minute after the disk was full. */
  private get budget(): number {
    if (this.options.now() - this.diskFullSince > DISK_FULL_HOLD_MS)
      this.budgetCap = Number.POSITIVE_INFINITY;
    return Math.min(this.options.maxBytes, this.budgetCap);
  }

  private evict(lane: Lane, budget: number): number {
    let evicted = 0;
    while (this.bytes > budget) {
      const victims = this.statements.oldestOfLane.all(lane, 256);
      if (victims.length === 0) break;
      for (const victim of victims) {
        if (this.bytes <= budget) break;
        this.statements.deleteReturning.get(victim.id);
        this.inflight.delete(victim.id);
        this.forget(lane, victim.bytes);
        evicted++;
      }
    }
    return evicted;
  }

  /**
   * Reads rows after `cursor`, skipping those in flight, until `limit` rows or the end. Rows
   * taken in this session are behind their cursor already; only a release moves a cursor back
   * over rows still in flight, so skipping is rare and pages stay the size asked for.
   */
  private scan(
    read: (after: number, limit: number) => RowRecord[],
    cursor: number,
    limit: number,
  ): RowRecord[] {
    const out: RowRecord[] = [];
    let after = cursor;
    while (out.length < limit) {
      const requested = limit - out.length;
      const page = read(after, requested);
      for (const row of page) {
        if (!this.inflight.has(row.id)) out.push(row);
      }
      if (page.length < requested) break; // reached the end
      after = page[page.length - 1]?.id ?? after;
    }
    return out;
  }

  private markTaken(rows: readonly RowRecord[]): OutboxRow[] {
    return rows.map((row) => {
      this.inflight.add(row.id);
      return {
        id: row.id,
        lane: row.lane as Lane,
        containerId: row.container_id,
        seq: row.seq,
        capturedAt: row.captured_at,
        bytes: row.bytes,
        payload: row.payload,
      };
    });
  }

  private recount(): void {
    this.rows = { alert: 0, telemetry: 0, held: 0 };
    this.bytes = 0;
    for (const total of this.statements.totals.all()) {
      this.rows[laneName(total.lane as Lane)] += total.n;
      this.bytes += total.bytes + total.n * ROW_OVERHEAD_BYTES;
    }
  }

  private remember(lane: Lane, bytes: number): void {
    this.rows[laneName(lane)]++;
    this.bytes += bytes + ROW_OVERHEAD_BYTES;
  }

  private forget(lane: Lane, bytes: number): void {
    this.rows[laneName(lane)]--;
    this.bytes -= bytes + ROW_OVERHEAD_BYTES;
  }
}

/** Space kept beside the database and given back when the disk is full. */
const RESERVE_BYTES = 512 * 1024;

/** How long the budget stays below what fitted after the disk was full. */
const DISK_FULL_HOLD_MS = 60_000;

/** A tick that could not be captured because the disk stayed full after making room. */
export class DiskFullError extends Error {
  constructor(
    readonly readings: number,
    readonly alerts: number,
  ) {
    super(`disk full: ${readings} readings and ${alerts} alerts could not be captured`);
    this.name = "DiskFullError";
  }
}

function isDiskFull(error: unknown): boolean {
  return (error as { code?: unknown }).code === "SQLITE_FULL";
}

function laneName(lane: Lane): "alert" | "telemetry" | "held" {
  return lane === LANE.alert ? "alert" : lane === LANE.held ? "held" : "telemetry";
}

function lastId(rows: readonly { id: number }[], fallback: number): number {
  return rows.length === 0 ? fallback : Math.max(fallback, rows[rows.length - 1]?.id ?? fallback);
}
