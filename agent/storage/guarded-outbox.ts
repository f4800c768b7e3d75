import type { CaptureBatch, Outbox } from "../outbox/outbox.js";
import { FailoverQueue } from "./failover-queue.js";
import type { ReeferReading, UnsequencedReading } from "../../core/record.js";
import type { StorageAlert } from "../../core/alerts.js";
import { GivenSeqs } from "./given-seqs.js";
import { MemoryLane, storeWhatMemoryHeld } from "./memory-lane.js";
import type { GuardedOutboxOptions } from "./guarded-outbox-options.js";
import { letGo, ReopenSchedule } from "./reopen-schedule.js";
import { RowRouting } from "./row-routing.js";
import { WriteBehind } from "./write-behind.js";
import { describeStorageFailure, isStorageFailure } from "./storage-failure.js";
import { StorageWatch } from "./storage-watch.js";
import type { CaptureStore, GuardedCaptureResult } from "./capture-store.js";
import {
  EMPTY_OUTBOX_STATS,
  type OutboxStats,
  type StorageState,
} from "../../core/gateway-status.js";

export type { GuardedOutboxOptions } from "./guarded-outbox-options.js";
export { SEQ_RESERVATION } from "./write-behind.js";

/**
 * The outbox as the agent uses it, kept alive through failing storage: an SD card that returns
 * EIO, an ext4 that remounts itself read-only, a card pulled out. At the first such failure it
 * lets go of the database and holds each tick in a bounded MemoryLane, which the publisher
 * drains as live traffic (alerts first), raises storage_failing, and tries to open the outbox
 * again with a growing wait. When the file opens, the seqs given out in memory are stored first
 * (never given twice), then what memory still holds, and capture goes on on the disk; the alert
 * clears once the storage has worked for `clearAfterMs`. No restart is needed, and a dead disk
 * at start is met the same way instead of a crash loop.
 *
 * The publisher takes rows through `queue` (FailoverQueue): memory first, then the disk.
 */
export class GuardedOutbox implements CaptureStore {
  private outbox: Outbox | null = null;
  private readonly memory: MemoryLane;
  private readonly watch: StorageWatch;
  private readonly seqs: GivenSeqs;
  /** Where acknowledgements and releases go: memory, the current outbox, or nowhere. */
  private readonly routing = new RowRouting();
  private readonly reopening: ReopenSchedule;
  /** The publisher's queue: memory first, then the outbox on the disk. */
  readonly queue: FailoverQueue;
  /** Write-behind (`writeBehindMs` > 0), or null. */
  private readonly behind: WriteBehind | null;
  private closed = false;

  constructor(private readonly options: GuardedOutboxOptions) {
    this.memory = new MemoryLane(options.memoryRows);
    this.seqs = new GivenSeqs(
      () => options.clock.now(),
      (containerId) => this.lastSeqOnDisk(containerId),
    );
    this.queue = new FailoverQueue(
      this.memory,
      this.routing,
      (work) => this.onDisk(work),
      (rows) => options.metrics.set("memory_lane_rows", rows),
    );
    this.watch = new StorageWatch(options.gatewayId, options.containers, options.clearAfterMs);
    this.reopening = new ReopenSchedule(options.path, options.retryMs, () => {
      this.reopen();
    });
    const delayMs = options.writeBehindMs ?? 0;
    this.behind =
      delayMs > 0
        ? new WriteBehind(
            {
              delayMs,
              memoryRows: options.memoryRows,
              now: () => options.clock.now(),
              ...(options.stored && { stored: options.stored }),
            },
            this.memory,
            this.routing,
          )
        : null;
  }

  /**
   * Opens the outbox. A storage failure leaves the agent running from memory (and retrying);
   * anything else (another agent holds the outbox, a newer schema) is thrown as before.
   */
  start(): void {
    try {
      this.adopt(this.options.open());
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      this.fail(error, "open");
    }
  }

  /** The open outbox, or null while the storage fails. */
  get current(): Outbox | null {
    return this.outbox;
  }

  get storage(): StorageState {
    return this.watch.state;
  }

  /** A background WAL sync failed: the storage is failing even though commits still work. */
  syncFailed(error: Error): void {
    this.raise(describeStorageFailure(error));
    this.options.metrics.increment("storage_failures", 1, { operation: "sync" });
  }

  storageAlerts(): StorageAlert[] {
    return this.watch.take();
  }

  nextSeqs(readings: readonly UnsequencedReading[]): ReeferReading[] {
    const outbox = this.outbox;
    if (outbox && this.behind)
      return this.reserveSeqs(outbox, this.behind, this.seqs.next(readings));
    if (outbox) {
      try {
        return outbox.nextSeqs(readings);
      } catch (error) {
        if (!isStorageFailure(error)) throw error;
        this.fail(error, "read");
      }
    }
    return this.seqs.next(readings);
  }

  /** Under write-behind, a seq is stored (synced) before its reading can be published. */
  private reserveSeqs(
    outbox: Outbox,
    behind: WriteBehind,
    readings: ReeferReading[],
  ): ReeferReading[] {
    this.guarded(() => behind.reserve(outbox, readings), "commit");
    return readings;
  }

  lastSeq(containerId: string): number {
    return this.seqs.last(containerId);
  }

  /** The outbox's last seq of a container; undefined when there is no outbox or it failed. */
  private lastSeqOnDisk(containerId: string): number | undefined {
    return this.guarded(() => this.outbox?.lastSeq(containerId));
  }

  commit(batch: CaptureBatch): GuardedCaptureResult {
    const outbox = this.outbox;
    if (outbox && this.behind) return this.commitBehind(outbox, this.behind, batch);
    if (outbox) {
      try {
        const result = outbox.commit(batch);
        this.seqs.note(batch.readings ?? []);
        this.watch.worked(this.at(), (c) => this.lastSeq(c));
        return { ...result, stored: true };
      } catch (error) {
        if (!isStorageFailure(error)) throw error;
        this.fail(error, "commit");
      }
    }
    return this.holdInMemory(batch);
  }

  /**
   * Write-behind: the tick's telemetry goes to the memory lane (published from there at once);
   * what must be on disk now goes to the outbox: alerts, readings held by report by exception,
   * and the fate of held ones. Then what memory has held for the write-behind time is stored.
   */
  private commitBehind(
    outbox: Outbox,
    behind: WriteBehind,
    batch: CaptureBatch,
  ): GuardedCaptureResult {
    const tick = behind.capture(outbox, batch);
    if ("failed" in tick) {
      this.fail(tick.failed, "commit");
      return this.holdInMemory(tick.hold);
    }
    this.seqs.note(batch.readings ?? []);
    this.options.metrics.increment("readings_dropped", tick.droppedFromMemory, {
      reason: "write_behind_full",
    });
    this.flushBehind(behind, false);
    if (this.outbox) this.watch.worked(this.at(), (c) => this.lastSeq(c));
    this.options.metrics.set("memory_lane_rows", this.memory.size);
    return tick.result;
  }

  /** Writes what memory has held long enough (WriteBehind.flush); a storage failure fails over. */
  private flushBehind(behind: WriteBehind, all: boolean): void {
    this.guarded(() => this.outbox && behind.flush(this.outbox, all), "commit");
  }

  private holdInMemory(batch: CaptureBatch): GuardedCaptureResult {
    const readings = batch.readings ?? [];
    const alerts = batch.alerts ?? [];
    this.seqs.note(readings);
    const { metrics } = this.options;
    const dropped = this.memory.hold(
      readings,
      alerts,
      Math.floor(this.options.clock.now()),
      batch.clockEpoch ?? null,
    );
    this.watch.countNotStored(readings.length);
    metrics.increment("readings_not_stored", readings.length);
    metrics.increment("readings_dropped", dropped.droppedReadings, { reason: "storage_failing" });
    metrics.increment("alerts_dropped", dropped.droppedAlerts, { reason: "storage_failing" });
    metrics.set("memory_lane_rows", this.memory.size);
    return { readings, evictedTelemetry: 0, evictedAlerts: 0, stored: false };
  }

  afterDurable(callback: () => void): void {
    if (this.outbox) this.outbox.afterDurable(callback);
    else callback();
  }

  synced(): Promise<void> {
    return this.outbox?.synced() ?? Promise.resolve();
  }

  correctClock(epoch: number, deltaMs: number): number {
    const inMemory = this.memory.correctClock(epoch, deltaMs);
    return inMemory + (this.guarded(() => this.outbox?.correctClock(epoch, deltaMs)) ?? 0);
  }

  /** What waits to be published, in memory and on the disk. */
  pending(): { alerts: number; telemetry: number } {
    return this.queue.pending();
  }

  stats(): OutboxStats {
    return this.guarded(() => this.outbox?.stats()) ?? EMPTY_OUTBOX_STATS;
  }

  oldestCapturedAt(): number | null {
    return this.guarded(() => this.outbox?.oldestCapturedAt()) ?? null;
  }

  close(): void {
    this.closed = true;
    this.reopening.stop();
    if (this.behind && this.outbox) {
      // What the broker did not acknowledge is stored, and the unused reserved seqs given back:
      // a graceful restart leaves no gap in the seqs.
      this.flushBehind(this.behind, true);
      this.guarded(() => this.outbox?.settleSeqs(this.seqs.all));
      // Everything the audit log stamped in memory is stored: the next start keeps the log.
      if (this.memory.size === 0) this.guarded(() => this.outbox?.audit?.caughtUp());
    }
    const outbox = this.outbox;
    this.outbox = null;
    if (outbox) letGo(outbox);
  }

  /**
   * Runs `work` on the outbox on the disk, when there is one; a storage failure fails over to
   * memory as any other does, and gives undefined.
   */
  onDisk<T>(work: (outbox: Outbox) => T): T | undefined {
    return this.guarded(() => (this.outbox ? work(this.outbox) : undefined));
  }

  /** Runs `work` on the outbox; a storage failure fails over (and gives undefined). */
  private guarded<T>(work: () => T, operation: "read" | "commit" = "read"): T | undefined {
    if (!this.outbox) return undefined;
    try {
      return work();
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      this.fail(error, operation);
      return undefined;
    }
  }

  private fail(error: unknown, operation: string): void {
    const reason = describeStorageFailure(error);
    const { metrics, logger } = this.options;
    metrics.increment("storage_failures", 1, { operation });
    this.raise(reason);
    const outbox = this.outbox;
    if (outbox) {
      // Seqs first, while the outbox may still answer reads: memory goes on from them.
      for (const id of this.options.containers.keys()) {
        if (this.seqs.knows(id)) continue;
        try {
          this.seqs.learn(id, outbox.lastSeq(id));
        } catch {
          // unreadable: lastSeq falls back to the wall clock
        }
      }
      this.outbox = null;
      this.routing.clear();
      letGo(outbox);
      logger.error(
        { operation, reason },
        "the outbox's storage failed: capturing into memory (live readings and alerts go on; nothing new survives a power cut) and trying to open it again",
      );
    } else if (operation === "open") {
      logger.error(
        { reason },
        "the outbox's storage cannot be opened: capturing into memory, trying again",
      );
    }
    this.reopening.schedule();
  }

  private reopen(): void {
    if (this.closed || this.outbox) return;
    const { logger, metrics } = this.options;
    if (this.reopening.mountPointLeftEmpty) {
      // The folder is now on another file system: the card's mount point, left empty. A fresh
      // outbox there would vanish under the card when it is mounted again.
      this.raise("the outbox's file system is not mounted");
      this.reopening.schedule();
      return;
    }
    let outbox: Outbox;
    try {
      outbox = this.options.open();
    } catch (error) {
      if (!isStorageFailure(error)) {
        logger.error({ err: error }, "the outbox could not be opened again; trying later");
      } else {
        this.raise(describeStorageFailure(error));
      }
      this.reopening.schedule();
      return;
    }
    try {
      outbox.ensureSeqsAbove(this.seqs.all);
      const held = storeWhatMemoryHeld(outbox, this.memory, this.options.stored);
      this.adopt(outbox);
      metrics.set("memory_lane_rows", 0);
      logger.warn(
        { stored: held.readings.length, alerts: held.alerts.length },
        "the outbox's storage works again: what memory held is stored, capture goes on on the disk",
      );
      this.options.recovered();
    } catch (error) {
      letGo(outbox);
      if (!isStorageFailure(error)) throw error;
      this.raise(describeStorageFailure(error));
      this.reopening.schedule();
    }
  }

  private adopt(outbox: Outbox): void {
    this.outbox = outbox;
    // A file (re)opened: its reservations are read again as the seqs are given.
    this.behind?.forgetReservations();
    if (outbox.recovery) {
      // Corrupt at open and moved aside: the readings it held wait in that file, not here. The
      // alert says so (raised now, cleared once the new file has worked for a while).
      const { movedTo, reason } = outbox.recovery;
      this.raise(`the outbox was corrupt (${reason}); moved aside to ${movedTo}`);
    }
    const replaced = outbox.audit?.replaced;
    if (replaced)
      this.options.logger.warn(
        { replaced, logId: outbox.audit.logId },
        "the audit log begins anew: the last process stopped with readings stamped in memory (write-behind), whose indexes the old log may have published; it ends at its last checkpoint",
      );
    this.reopening.opened();
    this.queue.adopted(outbox);
  }

  /** Raises storage_failing (or keeps it raised) for `reason`. */
  private raise(reason: string): void {
    this.watch.failed(reason, this.at(), (c) => this.lastSeq(c));
  }

  private at(): { wall: number; mono: number } {
    return { wall: this.options.clock.now(), mono: this.options.clock.monotonic() };
  }
}
