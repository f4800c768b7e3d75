import type Database from "better-sqlite3";
import type { OutboxStats } from "../../core/gateway-status.js";
import { LiveRows } from "./live-rows.js";
import { LANE, type Lane } from "./publish-queue.js";
import { prepareStatements, type RowRecord, type Statements } from "./statements.js";
import { OutboxTally } from "./tally.js";

/**
 * The outbox database with its statements and in-memory tally: the one place rows are inserted
 * and deleted, so the tally follows every change. The outbox's parts (sequences, budget, publish
 * sessions) share it.
 */
export class OutboxStore {
  readonly statements: Statements;
  readonly tally = new OutboxTally();
  /** The highest row id inserted (AUTOINCREMENT: never reused, even after a rollback). */
  lastInsertedId = 0;
  /** With a background sync (WalSync): the highest row id known to be on disk. */
  syncedId: number | null = null;
  /**
   * Moves whenever the rows may have changed: at the end of every outermost transaction (each
   * change is made in one), committed or rolled back, and by `touched`. What is worked out from
   * the rows can be kept until it moves.
   */
  generation = 0;
  private readonly rollbackHooks: (() => void)[] = [];
  private readonly commitHooks: (() => void)[] = [];
  private readonly committedHooks: (() => void)[] = [];
  private readonly beginHooks: (() => void)[] = [];
  private readonly begunHooks: (() => void)[] = [];
  /** Rows the tally counts as gone though still in the table (AcknowledgedRows). */
  private goneFromTally: () => Iterable<{ lane: Lane; bytes: number }> = () => [];

  /**
   * The telemetry rows committed and not yet taken, which the live lane reads (LiveRows). Private:
   * every change to a row goes through a method of this class, which keeps the cache right.
   */
  private readonly live: LiveRows;

  constructor(readonly db: Database.Database) {
    this.statements = prepareStatements(db);
    this.recount();
    this.lastInsertedId = this.statements.maxId.get()?.id ?? 0;
    this.live = new LiveRows(this.lastInsertedId);
  }

  /** The highest row id the publisher may see: every row, or with a background sync the synced ones. */
  get visibleId(): number {
    return this.syncedId ?? this.lastInsertedId;
  }

  /** Runs after a rolled-back transaction, to drop caches that may be ahead of the database. */
  onRollback(hook: () => void): void {
    this.rollbackHooks.push(hook);
  }

  /**
   * Runs last inside every outermost transaction, before its COMMIT: what must commit with the
   * rows a transaction changed (the audit log's range) is written there.
   */
  beforeCommit(hook: () => void): void {
    this.commitHooks.push(hook);
  }

  /** Runs before every outermost transaction begins. */
  beforeBegin(hook: () => void): void {
    this.beginHooks.push(hook);
  }

  /** Runs first inside every outermost transaction, right after its BEGIN. */
  afterBegin(hook: () => void): void {
    this.begunHooks.push(hook);
  }

  /** The rows' standing changed outside a transaction (a row acknowledged, its delete deferred). */
  touched(): void {
    this.generation++;
  }

  /** Rows still in the table that the tally must not count (see recount). */
  excludeFromTally(rows: () => Iterable<{ lane: Lane; bytes: number }>): void {
    this.goneFromTally = rows;
  }

  /** Runs after every outermost transaction that committed. */
  afterCommit(hook: () => void): void {
    this.committedHooks.push(hook);
  }

  /**
   * Runs `work` in one transaction. The tally follows each statement, so when the transaction
   * rolls back it is recounted from the database.
   */
  atomically<T>(work: () => T): T {
    try {
      return this.inTransaction(work);
    } catch (error) {
      this.generation++;
      for (const hook of this.rollbackHooks) hook();
      this.live.startOver(this.lastInsertedId);
      if (this.db.open) this.recount();
      throw error;
    }
  }

  /**
   * BEGIN, work, COMMIT (ROLLBACK when it throws). Written here instead of better-sqlite3's
   * `db.transaction()`, which prepares nine statements per connection for its savepoints and
   * modes (16 KiB measured, paid by every gateway of a fleet worker); nested calls, which the
   * outbox does not make, still get its savepoints.
   */
  private inTransaction<T>(work: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(work)();
    for (const hook of this.beginHooks) hook();
    this.statements.begin.run();
    try {
      for (const hook of this.begunHooks) hook();
      const result = work();
      for (const hook of this.commitHooks) hook();
      this.statements.commit.run();
      this.generation++;
      this.live.committed();
      for (const hook of this.committedHooks) hook();
      return result;
    } catch (error) {
      // A failed statement may have ended the transaction already (SQLite rolls back on some
      // errors, a full disk among them).
      if (transactionOpen(this.db)) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  insert(
    lane: Lane,
    containerId: string,
    seq: number | null,
    at: number,
    payload: string,
    clockEpoch: number | null,
  ): number {
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
    const id = Number(lastInsertRowid);
    this.lastInsertedId = id;
    this.tally.remember(lane, bytes);
    if (lane !== LANE.telemetry) return id;
    // Outside a transaction no COMMIT would tell the cache (LiveRows): the table answers for it.
    if (!this.db.inTransaction) this.live.startOver(id);
    else
      this.live.inserted({
        id,
        lane,
        container_id: containerId,
        seq,
        captured_at: at,
        bytes,
        payload,
      });
    return id;
  }

  /**
   * What a new process owes rows of the last one, before anything is taken: held readings whose
   * fate died with it are published (more, never less), and clock epochs, which belong to one
   * process (the monotonic clock restarts), are forgotten, so readings that never saw a
   * synchronized clock stay "unsynced".
   */
  settleLastProcess(): void {
    this.statements.promoteAllHeld.run();
    this.statements.forgetEpochs.run();
    this.recount();
    // The live-rows cache needs no word: it vouches only for rows after lastInsertedId.
  }

  /**
   * The live lane's next rows after `cursor` from memory, or null where the cache cannot vouch
   * for every row after it (the table answers then). See LiveRows.after.
   */
  liveAfter(
    cursor: number,
    visibleId: number,
    limit: number,
    skip: (id: number) => boolean,
  ): RowRecord[] | null {
    return this.live.after(cursor, visibleId, limit, skip);
  }

  /**
   * Deletes an acknowledged row whose tally entry went when it was acknowledged
   * (AcknowledgedRows); inside the caller's transaction.
   */
  deleteAcknowledged(id: number): void {
    this.statements.deleteRow.run(id);
    this.live.deleted(id);
  }

  /**
   * Moves a held reading to the telemetry lane (report by exception promoted it); inside the
   * caller's transaction. Returns its row id, or null when it was evicted meanwhile.
   */
  promoteHeld(containerId: string, seq: number): number | null {
    const row = this.statements.promoteHeld.get(containerId, seq);
    if (!row) return null;
    this.tally.forget(LANE.held, row.bytes);
    this.tally.remember(LANE.telemetry, row.bytes);
    this.live.changed(row.id, this.lastInsertedId); // a telemetry row it never saw inserted
    return row.id;
  }

  /**
   * Deletes a held reading (report by exception dropped it); inside the caller's transaction.
   * Returns its payload, or null when it was evicted meanwhile.
   */
  dropHeld(containerId: string, seq: number): string | null {
    const row = this.statements.dropHeld.get(containerId, seq);
    if (!row) return null;
    this.tally.forget(LANE.held, row.bytes);
    return row.payload;
  }

  /**
   * Rewrites the payload of every row captured in clock epoch `epoch` with `rewrite` and ends
   * its epoch (a clock correction); inside the caller's transaction. Returns how many.
   */
  rewriteEpoch(epoch: number, rewrite: (payload: string) => string): number {
    const update = this.statements.rewrite; // transient: one statement for the whole loop
    let rewritten = 0;
    for (const row of this.statements.epochRows.all(epoch)) {
      const payload = rewrite(row.payload);
      const bytes = Buffer.byteLength(payload);
      update.run(payload, bytes, row.id);
      this.live.changed(row.id, this.lastInsertedId);
      this.tally.forget(row.lane as Lane, row.bytes);
      this.tally.remember(row.lane as Lane, bytes);
      rewritten++;
    }
    return rewritten;
  }

  /** Deletes a row; false when it was gone already. */
  delete(id: number): boolean {
    const gone = this.statements.deleteReturning.get(id);
    this.live.deleted(id);
    if (gone) this.tally.forget(gone.lane as Lane, gone.bytes);
    return gone !== undefined;
  }

  /** Adds to a durable counter (evictions, dead letters); inside the caller's transaction. */
  count(name: string, n: number): void {
    if (n > 0) this.statements.bumpCounter.run(name, n);
  }

  counter(name: string): number {
    return this.statements.counter.get(name)?.value ?? 0;
  }

  /** Rows and bytes by lane, from the tally, and the durable counters of what left otherwise. */
  stats(): OutboxStats {
    const { rows, bytes } = this.tally;
    const counter = (name: string) => this.counter(name);
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

  recount(): void {
    this.tally.recount(this.statements.totals.all());
    for (const row of this.goneFromTally()) this.tally.forget(row.lane, row.bytes);
  }
}

/** Read afresh: the compiler would narrow `db.inTransaction` from an earlier check. */
function transactionOpen(db: Database.Database): boolean {
  return db.inTransaction;
}
