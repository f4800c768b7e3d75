import type { CaptureBatch, CaptureResult, Outbox } from "../outbox/outbox.js";
import { LANE } from "../outbox/publish-queue.js";
import type { ReeferReading } from "../../core/record.js";
import type { MemoryLane } from "./memory-lane.js";
import type { RowRouting } from "./row-routing.js";
import type { GuardedCaptureResult } from "./capture-store.js";
import { isStorageFailure } from "./storage-failure.js";

/**
 * A write-behind tick's outcome: done (with the readings dropped from a full memory lane), or
 * the storage failed and `hold` is what memory must keep instead (those the audit log stamped
 * as stamped: their leaves are in the log).
 */
export type WriteBehindTick =
  | { readonly result: GuardedCaptureResult; readonly droppedFromMemory: number }
  | { readonly failed: unknown; readonly hold: CaptureBatch };

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
   * A tick under write-behind: its telemetry goes to the memory lane (published from there at
   * once), stamped by the audit log as it goes, so that what the broker acknowledges from
   * memory is logged too; what must be on disk now goes to the outbox: alerts, readings held by
   * report by exception, and the fate of held ones. Throws what is not a storage failure.
   */
  capture(outbox: Outbox, batch: CaptureBatch): WriteBehindTick {
    const readings = batch.readings ?? [];
    const later = readings.filter((_, i) => batch.held?.[i] !== true);
    const now = readings.filter((_, i) => batch.held?.[i] === true);
    const { promote, drop } = batch;
    const alerts = batch.alerts ?? [];
    let evicted = { evictedTelemetry: 0, evictedAlerts: 0 };
    // Each reading as it goes on, in place of the one given: stamped by the audit log.
    const stamped = new Map<ReeferReading, ReeferReading>();
    const trail = outbox.audit;
    let ahead: ReeferReading[] = later;
    try {
      if (trail) ahead = later.map((r) => trail.stampAhead(r).record);
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      return { failed: error, hold: batch };
    }
    for (const [i, r] of later.entries()) stamped.set(r, ahead[i] ?? r);
    if (now.length > 0 || alerts.length > 0 || (promote?.size ?? 0) > 0 || (drop?.size ?? 0) > 0) {
      try {
        const result = outbox.commit({ ...batch, readings: now, held: now.map(() => true) });
        evicted = {
          evictedTelemetry: result.evictedTelemetry,
          evictedAlerts: result.evictedAlerts,
        };
        for (const [i, r] of now.entries()) stamped.set(r, result.readings[i] ?? r);
      } catch (error) {
        if (!isStorageFailure(error)) throw error;
        return {
          failed: error,
          hold: { ...batch, readings: readings.map((r) => stamped.get(r) ?? r) },
        };
      }
    }
    const at = Math.floor(this.options.now());
    const dropped = this.memory.hold(ahead, [], at, batch.clockEpoch ?? null);
    for (const payload of dropped.dropped) trail?.droppedAhead(payload, "evicted");
    return {
      result: {
        readings: readings.map((r) => stamped.get(r) ?? r),
        ...evicted,
        stored: later.length === 0,
      },
      droppedFromMemory: dropped.droppedReadings,
    };
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
