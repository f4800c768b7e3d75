import { LANE, type Lane } from "./publish-queue.js";
import type { SpaceReserve } from "./space-reserve.js";
import type { OutboxStore } from "./store.js";

/** How long the budget stays below what fitted after the disk was full. */
const DISK_FULL_HOLD_MS = 60_000;

export interface Evictions {
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
}

/**
 * The outbox's disk budget: over `maxBytes` the oldest telemetry is evicted first (held rows
 * before publishable ones) and alerts only when no telemetry is left; every eviction is counted
 * durably. A full disk is survived by giving back the reserve file, evicting telemetry in small
 * transactions and holding the budget 10 % below what fitted for a minute.
 */
export class DiskBudget {
  private diskFullSince = Number.NEGATIVE_INFINITY;
  private budgetCap = Number.POSITIVE_INFINITY;

  constructor(
    private readonly store: OutboxStore,
    private readonly reserve: SpaceReserve,
    private readonly options: { readonly maxBytes: number; readonly now: () => number },
    /** A row is about to be evicted (still stored): the publish sessions and the audit log hear of it. */
    private readonly evicting: (id: number) => void,
  ) {}

  /** Evicts until the outbox fits; inside the capture's transaction. */
  enforce(): Evictions {
    const budget = this.budget;
    const evictedTelemetry = this.evict(LANE.held, budget) + this.evict(LANE.telemetry, budget);
    // Alerts yield only to the configured budget, never to the caution after a full disk.
    const evictedAlerts = this.evict(LANE.alert, this.options.maxBytes);
    this.store.count("evicted_telemetry", evictedTelemetry);
    this.store.count("evicted_alert", evictedAlerts);
    return { evictedTelemetry, evictedAlerts };
  }

  /**
   * The disk is full: give the WAL's space back to the file system, evict the oldest telemetry
   * (a tenth of it, at least 100 rows), and hold the budget below what fitted for a minute, so
   * the outbox settles under what the disk can hold. Returns how many rows it evicted.
   */
  makeRoom(): number {
    const { db, tally, statements } = this.store;
    // Give back the reserve first: on a full disk even a delete needs space in the WAL, and a
    // checkpoint may need to grow the file.
    this.reserve.release();
    try {
      db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Best effort: eviction below may still fit in the space the reserve gave back.
    }
    this.diskFullSince = this.options.now();
    this.budgetCap = Math.floor(tally.bytes * 0.9);
    // Small transactions, each followed by a checkpoint: a large delete would itself need more
    // WAL than a full disk can give.
    const target = Math.max(100, Math.floor((tally.rows.telemetry + tally.rows.held) / 10));
    let evicted = 0;
    while (evicted < target) {
      let chunk = 0;
      try {
        chunk = this.store.atomically(() => {
          let n = 0;
          for (const lane of [LANE.held, LANE.telemetry]) {
            for (const victim of statements.oldestOfLane.all(
              lane,
              Math.min(50, target - evicted) - n,
            )) {
              this.remove(victim.id);
              n++;
            }
          }
          this.store.count("evicted_telemetry", n);
          return n;
        });
        db.pragma("wal_checkpoint(TRUNCATE)");
        // Hand the freed pages back to the file system: deleting rows alone does not shrink it.
        db.pragma("incremental_vacuum");
        db.pragma("wal_checkpoint(TRUNCATE)");
      } catch {
        break; // no room even for that: the capture retry will say so
      }
      if (chunk === 0) break;
      evicted += chunk;
    }
    try {
      this.store.count("disk_full", 1);
    } catch {
      // counted in metrics by the caller anyway
    }
    return evicted;
  }

  /** Re-takes the reserve once there is room again (tried after each capture while it is out). */
  restoreReserve(): void {
    if (this.reserve.held || this.options.now() - this.diskFullSince < DISK_FULL_HOLD_MS) return;
    this.reserve.take();
  }

  /** The budget in force: the configured one, or lower for a minute after the disk was full. */
  private get budget(): number {
    if (this.options.now() - this.diskFullSince > DISK_FULL_HOLD_MS)
      this.budgetCap = Number.POSITIVE_INFINITY;
    return Math.min(this.options.maxBytes, this.budgetCap);
  }

  private evict(lane: Lane, budget: number): number {
    let evicted = 0;
    while (this.store.tally.bytes > budget) {
      const victims = this.store.statements.oldestOfLane.all(lane, 256);
      if (victims.length === 0) break;
      for (const victim of victims) {
        if (this.store.tally.bytes <= budget) break;
        this.remove(victim.id);
        evicted++;
      }
    }
    return evicted;
  }

  private remove(id: number): void {
    this.evicting(id);
    this.store.delete(id);
  }
}
