import type { StorageState } from "../../core/gateway-status.js";
import { ALERT_SCHEMA, SEVERITY, type StorageAlert } from "../../core/alerts.js";
import type { WatchTime } from "../rules/device-watch.js";

/** The storage's state as /healthz, /metrics and the health shadow show it. */

interface Episode {
  readonly sinceWall: number;
  lastFailureMono: number;
  reason: string;
}

/**
 * Raises `storage_failing` (critical) for every container at the storage's first failure, and
 * clears it once the storage has worked for `clearAfterMs` with no failure (a card failing 1 %
 * of its writes keeps it raised instead of flapping). The records wait in `take` for the next
 * commit, so they are stored when the disk takes them and published from memory when not.
 */
export class StorageWatch {
  private episode: Episode | null = null;
  private due: StorageAlert[] = [];
  private notStored = 0;

  constructor(
    private readonly gatewayId: string,
    /** Each container's product id. */
    private readonly products: ReadonlyMap<string, string>,
    private readonly clearAfterMs: number,
  ) {}

  failed(reason: string, at: WatchTime, lastSeq: (containerId: string) => number): void {
    if (this.episode) {
      this.episode.lastFailureMono = at.mono;
      this.episode.reason = reason;
      return;
    }
    this.episode = { sinceWall: at.wall, lastFailureMono: at.mono, reason };
    this.due.push(...this.records("raised", at, lastSeq));
  }

  /** A commit reached the disk: clears the alert once the storage has worked long enough. */
  worked(at: WatchTime, lastSeq: (containerId: string) => number): void {
    const episode = this.episode;
    if (!episode || at.mono - episode.lastFailureMono < this.clearAfterMs) return;
    this.due.push(...this.records("cleared", at, lastSeq));
    this.episode = null;
  }

  /** Readings that could not be stored on the disk. */
  countNotStored(readings: number): void {
    this.notStored += readings;
  }

  /** The raise and clear records not yet handed to a commit. */
  take(): StorageAlert[] {
    if (this.due.length === 0) return [];
    const due = this.due;
    this.due = [];
    return due;
  }

  get state(): StorageState {
    const episode = this.episode;
    return {
      failing: episode !== null,
      since: episode?.sinceWall ?? null,
      reason: episode?.reason ?? null,
      readingsNotStored: this.notStored,
    };
  }

  private records(
    state: "raised" | "cleared",
    at: WatchTime,
    lastSeq: (containerId: string) => number,
  ): StorageAlert[] {
    const episode = this.episode;
    if (!episode) return [];
    return [...this.products].map(([containerId, productId]) => {
      const seq = lastSeq(containerId);
      return {
        schema: ALERT_SCHEMA,
        alert_id: `${containerId}:storage_failing:${episode.sinceWall}:${state}`,
        alert_type: "storage_failing",
        severity: SEVERITY.storage_failing,
        state,
        container_id: containerId,
        gateway_id: this.gatewayId,
        product_id: productId,
        first_seq: seq,
        last_seq: seq,
        alert_time: new Date(at.wall).toISOString(),
        since: new Date(episode.sinceWall).toISOString(),
        reason: episode.reason,
        readings_not_stored: this.notStored,
      };
    });
  }
}
