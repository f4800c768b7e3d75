import type { ReeferReading } from "../../core/record.js";
import { CLOCK_CORRECTION_FIELD, LOG_INDEX_FIELD } from "../../core/audit/leaf.js";
import type { OutboxStore } from "./store.js";

/**
 * The clock became trustworthy: the readings of `epoch` still in the outbox get their
 * measurement_time moved by `deltaMs` and are marked "synced" (`correctedReading`); inside the
 * caller's transaction. Returns how many were corrected.
 */
export function rewriteEpoch(store: OutboxStore, epoch: number, deltaMs: number): number {
  return store.rewriteEpoch(epoch, (payload) =>
    JSON.stringify(correctedReading(JSON.parse(payload) as ReeferReading, deltaMs)),
  );
}

/**
 * A reading of an uncorrected epoch as corrected: its time moved by `deltaMs`, "synced". A
 * logged reading names the shift (whole ms, as the time moved), so that the reading its leaf
 * holds can be recomputed (docs/audit-log.md).
 */
export function correctedReading(reading: ReeferReading, deltaMs: number): ReeferReading {
  const before = Date.parse(reading.measurement_time);
  const moved = new Date(before + deltaMs);
  const corrected: ReeferReading & Record<string, unknown> = {
    ...reading,
    measurement_time: moved.toISOString(),
    clock: "synced",
  };
  if (LOG_INDEX_FIELD in reading) corrected[CLOCK_CORRECTION_FIELD] = moved.getTime() - before;
  return corrected;
}
