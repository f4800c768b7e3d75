import type { Outbox, OutboxRow } from "../outbox/outbox.js";
import type { PublishQueue } from "../outbox/publish-queue.js";
import type { MemoryLane } from "./memory-lane.js";
import type { RowRouting } from "./row-routing.js";

/** Runs `work` on the outbox on the disk when there is one (undefined otherwise, or when it failed). */
export type OnDisk = <T>(work: (outbox: Outbox) => T) => T | undefined;

/**
 * The publisher's queue of a GuardedOutbox: the memory lane first (alerts, then its readings as
 * live traffic), then the outbox on the disk, whichever file is open now. Acknowledgements,
 * refusals and releases go back where their rows came from (RowRouting); those of a file that
 * failed since are ignored, and its rows are sent again: duplicates, never a loss. Apart from the
 * guarded outbox's capture side so that each can be read alone: this one knows nothing of
 * failing over, only where a row lives.
 */
export class FailoverQueue implements PublishQueue {
  private sessionBegun = false;

  constructor(
    private readonly memory: MemoryLane,
    private readonly routing: RowRouting,
    private readonly onDisk: OnDisk,
    /** How many rows memory holds, after a change (for the memory_lane_rows gauge). */
    private readonly memoryChanged: (rows: number) => void,
  ) {}

  /** A file was opened (at start, or again after a failure): a session of its own, if one runs. */
  adopted(outbox: Outbox): void {
    this.routing.clear();
    if (this.sessionBegun) outbox.beginSession();
  }

  beginSession(): void {
    this.sessionBegun = true;
    this.routing.clear();
    this.memory.beginSession();
    this.onDisk((outbox) => outbox.beginSession());
  }

  takeAlerts(limit: number): OutboxRow[] {
    const held = this.memory.takeAlerts(limit);
    if (held.length > 0) return held;
    return this.track(this.onDisk((outbox) => outbox.takeAlerts(limit)));
  }

  takeLive(limit: number): OutboxRow[] {
    const held = this.memory.takeLive(limit);
    if (held.length > 0) return held;
    return this.track(this.onDisk((outbox) => outbox.takeLive(limit)));
  }

  takeBackfill(maxBytes: number, maxRows: number, perRowBytes?: number): OutboxRow[] {
    return this.track(this.onDisk((outbox) => outbox.takeBackfill(maxBytes, maxRows, perRowBytes)));
  }

  accept(ids: readonly number[]): void {
    this.settle(ids, (outbox, mine) => outbox.accept(mine));
  }

  reject(ids: readonly number[], reason: string): void {
    // Refused for good from memory: the audit log declares what it had stamped.
    const trail = this.onDisk((outbox) => outbox.audit);
    if (trail)
      for (const payload of this.memory.payloadsOf(ids)) trail.droppedAhead(payload, "dead_letter");
    this.settle(ids, (outbox, mine) => outbox.reject(mine, reason));
  }

  release(rows: readonly OutboxRow[]): void {
    const { memory, outbox } = this.routing.rows(rows);
    for (const id of memory) this.memory.release(id);
    if (outbox.length > 0) this.onDisk((open) => open.release(outbox));
  }

  pending(): { alerts: number; telemetry: number } {
    const held = this.memory.pending();
    const stored = this.onDisk((outbox) => outbox.pending()) ?? { alerts: 0, telemetry: 0 };
    return { alerts: held.alerts + stored.alerts, telemetry: held.telemetry + stored.telemetry };
  }

  /** Settles ids: memory rows by themselves, the current outbox's through it, stale ones ignored. */
  private settle(ids: readonly number[], settle: (outbox: Outbox, mine: number[]) => void): void {
    const { memory, outbox } = this.routing.ids(ids);
    this.memory.forget(memory);
    this.memoryChanged(this.memory.size);
    if (outbox.length > 0) this.onDisk((open) => settle(open, outbox));
  }

  private track(rows: OutboxRow[] | undefined): OutboxRow[] {
    if (!rows) return [];
    this.routing.track(rows);
    return rows;
  }
}
