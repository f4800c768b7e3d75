/**
 * alert: alert records, sent first. telemetry: readings to publish. held: readings report by
 * exception did not publish at once; the capture stage promotes them to telemetry or drops them
 * (counted) when their window closes, and a restart promotes any left over.
 */
export const LANE = { alert: 0, telemetry: 1, held: 2 } as const;
export type Lane = (typeof LANE)[keyof typeof LANE];

/** A captured row, as handed to the publisher. */
export interface OutboxRow {
  readonly id: number;
  readonly lane: Lane;
  readonly containerId: string;
  readonly seq: number | null;
  readonly capturedAt: number;
  readonly bytes: number;
  readonly payload: string;
}

/**
 * The publisher's view of the outbox, in Telegraf's buffer transactions: take rows, then accept,
 * reject or release each. A taken row stays stored until then, so a crash at any moment sends it
 * again (at least once). `publish-queue.contract.ts` is the contract every implementation passes.
 */
export interface PublishQueue {
  /**
   * A new broker connection: everything not acknowledged is pending again, and the telemetry
   * captured so far becomes backfill.
   */
  beginSession(): void;
  /** Up to `limit` alerts not yet taken, oldest first. */
  takeAlerts(limit: number): OutboxRow[];
  /** Up to `limit` readings captured during this session and not yet taken, oldest first. */
  takeLive(limit: number): OutboxRow[];
  /**
   * The next backfill batch: the oldest untaken backlog of one container (containers take turns),
   * as many rows as fit in `maxBytes` (payloads plus `perRowBytes` each, but at least one row)
   * and `maxRows`, in seq order. Empty when the backlog is drained.
   */
  takeBackfill(maxBytes: number, maxRows: number, perRowBytes?: number): OutboxRow[];
  /** The broker acknowledged these rows: they leave the queue. */
  accept(ids: readonly number[]): void;
  /** Refused for good: they leave the queue for the dead-letter table, with the reason. */
  reject(ids: readonly number[], reason: string): void;
  /** Not delivered this time: they will be taken again, in order. */
  release(rows: readonly OutboxRow[]): void;
  /** What waits to be published, for progress reports. */
  pending(): { readonly alerts: number; readonly telemetry: number };
}
