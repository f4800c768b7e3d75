import { closeSync, fdatasync, fdatasyncSync, fsync, openSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** What the outbox hears from its background sync. */
export interface WalSyncEvents {
  /** Every row up to `id` is on disk (or the disk failed and it is published anyway). */
  readonly durable: (id: number) => void;
  /** fdatasync failed: the rows it covered are published without a durable copy. */
  readonly failed: (error: Error) => void;
  /**
   * How long one fdatasync of the WAL took, in seconds: a card that slows down shows here
   * (reefer_edge_wal_sync_seconds) before its backlog grows.
   */
  readonly timed?: (seconds: number) => void;
}

/**
 * Makes committed rows durable off the event loop: the outbox commits with
 * `synchronous=NORMAL` (the WAL is written, not synced) and this class fdatasyncs the WAL file in
 * libuv's thread pool, then reports the highest row id the sync covered. Rows become visible to
 * the publisher only then, so a reading is never sent, or reported captured, before it would
 * survive a power cut: the promise of `synchronous=FULL`, without the event loop waiting on the
 * disk (measured: 70 % of a fleet worker's time went to outboxes, 43 % to the inline fsync).
 *
 * One sync at a time per file: commits that land while one runs are covered by the next, so a
 * burst costs two syncs, not one per commit (a group commit per outbox). Many outboxes in one
 * process sync in parallel, as many at once as the thread pool has threads.
 *
 * Hand-written because SQLite has no asynchronous sync and better-sqlite3 is synchronous. It
 * relies on Linux syncing a file's data through any descriptor of it, and on SQLite keeping the
 * same WAL file (same inode) while a connection is open: it truncates and rewrites it, and
 * deletes it only when the last connection closes.
 */
export class WalSync {
  private readonly fd: number;
  private durableId: number;
  private wantedId: number;
  private syncing = false;
  /** fdatasync calls made in the background so far (commits share them). */
  syncs = 0;
  private closing = false;
  /** `soon` was called while a sync ran: one more after it. */
  private again = false;
  private closed = false;

  /** Files (and folders) to fsync once, before the first WAL sync: a new database's. */
  private alsoOnce: string[];

  constructor(
    walPath: string,
    committedId: number,
    private readonly events: WalSyncEvents,
    alsoOnce: readonly string[] = [],
  ) {
    this.alsoOnce = [...alsoOnce];
    // Read-only is enough: fsync(2) flushes the file, whatever the descriptor's mode.
    this.fd = openSync(walPath, "r");
    // What an earlier process committed may not have been synced before it died: once, now
    // (an outbox without rows has nothing the publisher could send too early).
    if (committedId > 0) {
      try {
        fdatasyncSync(this.fd);
      } catch (error) {
        events.failed(error as Error);
      }
    }
    this.durableId = committedId;
    this.wantedId = committedId;
  }

  /** The highest row id known to be on disk. */
  get durable(): number {
    return this.durableId;
  }

  /** True while committed rows wait for their sync. */
  get pending(): boolean {
    return this.wantedId > this.durableId;
  }

  /** Rows up to `id` were committed: sync them (now, or right after the sync under way). */
  request(id: number): void {
    if (this.closing || id <= this.wantedId) return;
    this.wantedId = id;
    if (!this.syncing) this.start();
  }

  /**
   * The WAL holds writes no row id stands for (deletes): sync once in the background, or once
   * more after the sync under way.
   */
  soon(): void {
    if (this.closing) return;
    if (this.syncing) this.again = true;
    else this.start();
  }

  /**
   * Syncs now, on the event loop, and reports what it covered: for the rare writes that must be
   * durable before anything else happens (a clock correction's rewrite, seqs moved up).
   */
  syncNow(): void {
    if (this.closing) return;
    for (const path of this.alsoOnce.splice(0)) {
      try {
        const fd = openSync(path, "r");
        try {
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } catch (error) {
        this.events.failed(error as Error);
      }
    }
    const target = this.wantedId;
    const began = performance.now();
    try {
      fdatasyncSync(this.fd);
    } catch (error) {
      this.events.failed(error as Error);
    }
    this.events.timed?.((performance.now() - began) / 1000);
    if (target > this.durableId) {
      this.durableId = target;
      this.events.durable(target);
    }
  }

  /**
   * Stops syncing. The descriptor closes once no sync is in flight, so the thread pool never
   * syncs a number the process has given to another file meanwhile. SQLite's close checkpoints
   * and syncs what is left.
   */
  close(): void {
    this.closing = true;
    if (!this.syncing) this.release();
  }

  private start(): void {
    const target = this.wantedId;
    this.again = false;
    this.syncing = true;
    this.syncs++;
    const once = this.alsoOnce;
    this.alsoOnce = [];
    syncAll(once, (onceError) => {
      if (onceError) this.events.failed(onceError);
      this.syncWal(target);
    });
  }

  private syncWal(target: number): void {
    if (this.closing) {
      this.syncing = false;
      this.release();
      return;
    }
    const began = performance.now();
    fdatasync(this.fd, (error) => {
      this.syncing = false;
      // The thread pool's time included: a pool busy with other files' syncs delays this one
      // as much as a slow card does, and both delay the readings waiting for it.
      this.events.timed?.((performance.now() - began) / 1000);
      if (this.closing) {
        this.release();
        return;
      }
      // A failed fdatasync leaves the data only in memory (Linux marks the pages clean): the
      // safest copy left is the one the broker gets, so the rows go out anyway, reported.
      if (error) this.events.failed(error);
      this.durableId = Math.max(this.durableId, target);
      this.events.durable(this.durableId);
      if (this.wantedId > this.durableId || this.again) this.start();
    });
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** fsyncs each path in turn in the thread pool (a folder too: its entries), then calls back. */
function syncAll(paths: readonly string[], done: (error: Error | null) => void): void {
  const [first, ...rest] = paths;
  if (first === undefined) {
    done(null);
    return;
  }
  let fd: number;
  try {
    fd = openSync(first, "r");
  } catch (error) {
    done(error as Error);
    return;
  }
  fsync(fd, (error) => {
    closeSync(fd);
    if (error) done(error);
    else syncAll(rest, done);
  });
}
