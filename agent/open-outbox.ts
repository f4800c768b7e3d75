import type { Logger } from "pino";
import type { AgentConfig } from "../config/schema.js";
import type { Clock } from "../core/clock.js";
import type { Metrics } from "../core/metrics.js";
import { Outbox } from "./outbox/outbox.js";
import type { Product } from "../core/products.js";
import type { ReeferReading } from "../core/record.js";
import { GuardedOutbox } from "./storage/guarded-outbox.js";
import { auditKeyFile } from "./settings-from-config.js";

/**
 * The agent's outbox: opened from the config with its WAL synced in the background (WalSync),
 * a failed sync and a recovered corrupt file counted and logged where an operator looks.
 */
export function openAgentOutbox(
  config: AgentConfig,
  clock: Clock,
  logger: Logger,
  metrics: Metrics,
  syncFailed: (error: Error) => void = () => {},
): Outbox {
  const outbox = new Outbox({
    ...config.buffer,
    ...(auditKeyFile(config) !== null && { audit: { gatewayId: config.gateway.id } }),
    now: () => clock.now(),
    backgroundSync: true,
    // Under write-behind no capture commit a tick syncs the drain's deletes along: sync them.
    syncAcknowledgements: config.buffer.writeBehindSeconds > 0,
    onSyncError: (error) => {
      metrics.increment("outbox_sync_errors");
      logger.error(
        { err: error },
        "outbox: the disk failed to sync the WAL; the readings it held are published without a durable copy",
      );
      syncFailed(error);
    },
    onSyncTimed: (seconds) => metrics.observe("wal_sync_seconds", seconds),
  });
  if (outbox.recovery) {
    metrics.increment("outbox_recoveries");
    logger.error(
      { movedTo: outbox.recovery.movedTo, reason: outbox.recovery.reason },
      "outbox database was corrupt: moved aside for forensics and started afresh; its unsent readings are in the moved file",
    );
  }
  return outbox;
}

/** Waits for `promise`, or `ms` at most (a graceful stop must not hang on a dead disk). */
export function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The agent's outbox kept alive through failing storage (GuardedOutbox, with the config's
 * `buffer.whenStorageFails`), opened: a dead disk at start leaves it running from memory.
 */
export function openGuardedOutbox(
  config: AgentConfig,
  parts: {
    readonly products: ReadonlyMap<string, Product>;
    readonly clock: Clock;
    readonly logger: Logger;
    readonly metrics: Metrics;
    /** The outbox opened again: the publisher may send what it now holds. */
    readonly recovered: () => void;
    /** Readings held in memory (write-behind, or while the storage failed) are now durable. */
    readonly stored: (readings: readonly ReeferReading[]) => void;
  },
): GuardedOutbox {
  const { clock, logger, metrics } = parts;
  const whenFailing = config.buffer.whenStorageFails;
  const outbox: GuardedOutbox = new GuardedOutbox({
    memoryRows: whenFailing.memoryRows,
    writeBehindMs: config.buffer.writeBehindSeconds * 1000,
    stored: parts.stored,
    clearAfterMs: whenFailing.clearAfterSeconds * 1000,
    retryMs: { first: 1000, max: whenFailing.retryMaxSeconds * 1000 },
    open: () =>
      openAgentOutbox(config, clock, logger, metrics, (error) => outbox.syncFailed(error)),
    path: config.buffer.path,
    gatewayId: config.gateway.id,
    containers: new Map([...parts.products].map(([id, product]) => [id, product.id])),
    clock,
    logger: logger.child({ component: "storage" }),
    metrics,
    recovered: parts.recovered,
  });
  outbox.start();
  return outbox;
}
