import type { Logger } from "pino";
import type { Clock } from "../../core/clock.js";
import type { Metrics } from "../../core/metrics.js";
import type { ReeferReading } from "../../core/record.js";
import type { Outbox } from "../outbox/outbox.js";

export interface GuardedOutboxOptions {
  /** Opens the outbox at its configured path (again, after a failure). */
  readonly open: () => Outbox;
  /** The outbox file, to tell a card put back from a mount point left empty. */
  readonly path: string;
  readonly gatewayId: string;
  /** Each container's product id (the storage alert is raised for each). */
  readonly containers: ReadonlyMap<string, string>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Rows held in memory while the disk fails, at most. */
  readonly memoryRows: number;
  /** How long the storage must work before storage_failing clears, ms. */
  readonly clearAfterMs: number;
  /** Between attempts to open the outbox again: the first wait and the longest, ms. */
  readonly retryMs: { readonly first: number; readonly max: number };
  /** The outbox opened again and took what memory held: the publisher may send it. */
  readonly recovered: () => void;
  /**
   * Write-behind (`buffer.writeBehindSeconds`), ms; 0: off. Telemetry waits this long in the
   * memory lane (published at once) before it is committed; what is acknowledged first is never
   * written. Seqs are then reserved on disk ahead of use (SEQ_RESERVATION).
   */
  readonly writeBehindMs?: number;
  /** Readings held in memory reached the disk (write-behind, or after the storage failed). */
  readonly stored?: (readings: readonly ReeferReading[]) => void;
}
