import type { OutboxRow } from "../outbox/publish-queue.js";

/**
 * Where the publisher's acknowledgements, refusals and releases go, for GuardedOutbox: memory
 * rows (negative ids) to the memory lane; rows taken from the current outbox to it; rows of an
 * outbox that has since been let go nowhere (they are sent again: a duplicate, never a loss).
 * A memory row that write-behind stored while it was in flight goes to its stored row, so its
 * acknowledgement deletes that row instead of leaving it to be sent twice.
 */
export class RowRouting {
  /** Ids taken from the current outbox and not yet settled. */
  private readonly taken = new Set<number>();
  /** Memory rows stored while in flight, by memory id: the outbox row they became. */
  private readonly moved = new Map<number, OutboxRow>();

  /** A new session, or another outbox: nothing taken before counts. */
  clear(): void {
    this.taken.clear();
    this.moved.clear();
  }

  /** Rows taken from the current outbox. */
  track(rows: readonly OutboxRow[]): void {
    for (const row of rows) this.taken.add(row.id);
  }

  /** The memory row `memoryId`, in flight, is now the outbox's `row` (taken on its behalf). */
  move(memoryId: number, row: OutboxRow): void {
    this.moved.set(memoryId, row);
    this.taken.add(row.id);
  }

  /** Settled ids split: memory ids, and the current outbox's; stale ones are left out. */
  ids(ids: readonly number[]): { memory: number[]; outbox: number[] } {
    const memory: number[] = [];
    const outbox: number[] = [];
    for (const original of ids) {
      const id = this.moved.get(original)?.id ?? original;
      this.moved.delete(original);
      if (id < 0) memory.push(id);
      else if (this.taken.delete(id)) outbox.push(id);
    }
    return { memory, outbox };
  }

  /** Released rows split the same way. */
  rows(rows: readonly OutboxRow[]): { memory: number[]; outbox: OutboxRow[] } {
    const memory: number[] = [];
    const outbox: OutboxRow[] = [];
    for (const original of rows) {
      const row = this.moved.get(original.id) ?? original;
      this.moved.delete(original.id);
      if (row.id < 0) memory.push(row.id);
      else if (this.taken.delete(row.id)) outbox.push(row);
    }
    return { memory, outbox };
  }
}
