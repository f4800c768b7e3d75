import type { Lane } from "./publish-queue.js";
import type { OutboxStore } from "./store.js";

/** A row as the publisher took it: what the tally needs to forget it. */
export interface TakenRow {
  readonly lane: Lane;
  readonly bytes: number;
}

/**
 * Rows the broker acknowledged, deleted by the outbox's next transaction, first thing after its
 * BEGIN, instead of in one of their own: with the capture's commit every tick, a reading costs
 * one transaction instead of two (its capture, and its delete once acknowledged), which was a
 * quarter of a fleet worker's CPU. Until then the tally counts them gone (pending, stats and the
 * budget see them deleted) and the publisher does not take them again. A power cut before that
 * commit sends them again: a duplicate, which consumers drop by (container_id, seq), never a
 * loss, as with an acknowledged delete that was not synced yet.
 */
export class AcknowledgedRows {
  private waiting = new Map<number, TakenRow>();
  /** Deleted in the open transaction: waiting again if it rolls back. */
  private deleting = new Map<number, TakenRow>();

  constructor(
    private readonly store: OutboxStore,
    /** Rows whose delete committed. */
    private readonly deleted: (ids: Iterable<number>) => void,
  ) {
    store.afterBegin(() => {
      this.deleteWaiting();
    });
    store.afterCommit(() => {
      if (this.deleting.size === 0) return;
      const done = this.deleting;
      this.deleting = new Map();
      this.deleted(done.keys());
    });
    store.onRollback(() => {
      for (const [id, row] of this.deleting) this.waiting.set(id, row);
      this.deleting = new Map();
    });
    // A rollback recounts the tally from the table, where these rows still are.
    store.excludeFromTally(() => this.waiting.values());
  }

  get size(): number {
    return this.waiting.size;
  }

  has(id: number): boolean {
    return this.waiting.has(id);
  }

  /** The broker acknowledged the row: gone for the tally now, from the table at the next commit. */
  acknowledge(id: number, row: TakenRow): void {
    if (this.waiting.has(id)) return;
    this.waiting.set(id, row);
    this.store.touched(); // no longer waiting to be sent
    this.store.tally.forget(row.lane, row.bytes);
  }

  /** Deletes what waits now, in a transaction of its own (a new session, a close, a raw query). */
  flush(): void {
    if (this.waiting.size > 0) this.store.atomically(() => undefined);
  }

  private deleteWaiting(): void {
    if (this.waiting.size === 0) return;
    for (const [id, row] of this.waiting) {
      this.store.deleteAcknowledged(id);
      this.deleting.set(id, row);
    }
    this.waiting = new Map();
  }
}
