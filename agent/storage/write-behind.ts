import type { CaptureResult, Outbox } from "../outbox/outbox.js";
import { LANE } from "../outbox/publish-queue.js";
import type { ReeferReading } from "../../core/record.js";
import type { MemoryLane } from "./memory-lane.js";
import type { RowRouting } from "./row-routing.js";

/**
 * Seqs reserved on disk ahead of use under write-behind: a reading may reach the broker before
 * any commit stores its seq, so a power cut must not let the next start give that seq again.
 * One synced write per this many readings of a container; a crash skips at most this many.
 */
export const SEQ_RESERVATION = 1000;

export interface WriteBehindOptions {
  /** How long telemetry waits in memory before it is written, ms. */
  readonly delayMs: number;
  /** The memory lane's bound: at half of it, memory is written whatever its age. */
  readonly memoryRows: number;
  readonly now: () => number;
  /** Readings that reached the disk, once durable. */
  readonly stored?: (readings: readonly ReeferReading[]) => void;
}

/**
 * Write-behind (`buffer.writeBehindSeconds`), for GuardedOutbox: the seq reservations, and the
 * writing of what the memory lane has held long enough. What the broker acknowledged in time
 * has left the lane and is never written.
 */
export class WriteBehind {
  /** Each container's seqs stored on disk ahead of use, up to here. */
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly options: WriteBehindOptions,
    private readonly memory: MemoryLane,
    private readonly routing: RowRouting,
  ) {}

  /** Another outbox file: its reservations are read again as seqs are given. */
  forgetReservations(): void {
    this.reserved.clear();
  }

  /**
   * Stores (synced) the reservations the given seqs need before their readings can be
   * published: SEQ_RESERVATION ahead of the seq that passed the last one. Throws what the
   * outbox throws.
   */
  reserve(outbox: Outbox, readings: readonly ReeferReading[]): void {
    const ahead = new Map<string, number>();
    for (const r of readings) {
      if (r.seq > (this.reserved.get(r.container_id) ?? -1))
        ahead.set(r.container_id, r.seq + SEQ_RESERVATION);
    }
    if (ahead.size === 0) return;
    outbox.ensureSeqsAbove(ahead);
    for (const [id, seq] of ahead) this.reserved.set(id, seq);
  }

  /**
   * Stores what the memory lane holds, in one commit per clock epoch, once its oldest row has
   * waited the write-behind time (or the lane is half full, or `all`: a graceful stop). A row
   * the publisher has in flight is stored too, and taken in the outbox on its behalf: its
   * acknowledgement deletes the stored row (RowRouting). Throws what the outbox throws; what
   * was not stored stays in memory.
   */
  flush(outbox: Outbox, all: boolean): void {
    const oldest = this.memory.oldestCapturedAt;
    if (oldest === null) return;
    const due = oldest <= Math.floor(this.options.now()) - this.options.delayMs;
    if (!all && !due && this.memory.size < this.options.memoryRows / 2) return;
    for (const group of this.memory.readingsByEpoch()) {
      const result: CaptureResult = outbox.commit({
        readings: group.readings,
        clockEpoch: group.epoch,
        // Stamped by the audit log as it went to memory (GuardedOutbox), a reading is stored as
        // it was published. One taken while the log was not kept left memory without a log
        // index, and its acknowledgement may delete the stored row unsent: logged now, the lake
        // would hold it without its leaf, or twice with different content. It stays outside.
        unlogged: group.sent,
      });
      const inFlight: number[] = [];
      for (const [i, id] of group.ids.entries()) {
        const rowId = result.rowIds?.[i];
        const reading = group.readings[i];
        if (group.taken[i] !== true || rowId === undefined || !reading) continue;
        const payload = JSON.stringify(reading);
        this.routing.move(id, {
          id: rowId,
          lane: LANE.telemetry,
          containerId: reading.container_id,
          seq: reading.seq,
          capturedAt: Math.floor(this.options.now()),
          bytes: Buffer.byteLength(payload),
          payload,
        });
        inFlight.push(rowId);
      }
      outbox.markInFlight(inFlight);
      this.memory.forget(group.ids);
      const stored = this.options.stored;
      // As stored: stamped by the audit log where memory had not sent them.
      if (stored) outbox.afterDurable(() => stored(result.readings));
    }
  }
}
