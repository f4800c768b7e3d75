import type { ReeferReading } from "../../core/record.js";
import type { Durability } from "./database.js";

/* The outbox's options and what a capture gives and gets back (Outbox re-exports them). */

/** An alert to capture: any JSON object about one container. */
export interface AlertDraft {
  readonly containerId: string;
  readonly payload: object;
}

export interface OutboxOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly durability: Durability;
  /** SQLite's page cache, KiB (4000 when not given). */
  readonly cacheKiB?: number;
  /** The full-disk reserve file beside the database, KiB (512 when not given; 0: none). */
  readonly reserveKiB?: number;
  /** Wall clock, for `captured_at` and dead-letter times. */
  readonly now: () => number;
  /**
   * With `full` durability: sync the WAL off the event loop (WalSync) instead of inside each
   * commit. Rows reach the publisher, and `afterDurable` callbacks run, once they are synced.
   */
  readonly backgroundSync?: boolean;
  /**
   * With a background sync: sync acknowledgements' deletes too (in the background, coalesced).
   * Without, they become durable with the next capture's sync, a tick later; under write-behind
   * there may be none for long, and a power cut would send a whole drain again.
   */
  readonly syncAcknowledgements?: boolean;
  /** A background fdatasync failed; its rows are published anyway (see WalSync). */
  readonly onSyncError?: (error: Error) => void;
  /** How long each fdatasync of the WAL took, seconds (see WalSync). */
  readonly onSyncTimed?: (seconds: number) => void;
  /**
   * Keep the cold-chain audit log (docs/audit-log.md) of this gateway: readings are stamped and
   * appended as they commit, and what leaves undelivered is declared in gap records.
   */
  readonly audit?: { readonly gatewayId: string };
}

/** Everything one tick commits, in one transaction. */
export interface CaptureBatch {
  /** Readings with the seqs `nextSeqs` gave them. */
  readonly readings?: readonly ReeferReading[];
  /** Per reading: held back by report by exception (lane held) instead of published. */
  readonly held?: readonly boolean[];
  readonly alerts?: readonly AlertDraft[];
  /** Held readings to publish after all, by container and seq. */
  readonly promote?: ReadonlyMap<string, readonly number[]>;
  /** Held readings not to publish: deleted and counted. */
  readonly drop?: ReadonlyMap<string, readonly number[]>;
  /**
   * Per reading: stored outside the audit log, because a copy may already have left from memory
   * without its log index (write-behind) and its acknowledgement may delete this row unsent.
   */
  readonly unlogged?: readonly boolean[];
  /** Per alert: stored outside the audit log, for the same reason (sent from memory already). */
  readonly unloggedAlerts?: readonly boolean[];
  /** The clock epoch of the readings, while the clock is not trusted (see ClockGuard). */
  readonly clockEpoch?: number | null;
}

/** What one commit did to the budget, for the caller's log and metrics. */
export interface CaptureResult {
  readonly readings: readonly ReeferReading[];
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
  /** The disk was full and room was made by evicting (counted in evictedTelemetry). */
  readonly diskFull?: boolean;
  /** The outbox's row id of each reading, in the batch's order. */
  readonly rowIds?: readonly number[];
}
