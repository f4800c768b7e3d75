import type { ReeferReading } from "../../core/record.js";
import { CLOCK_CORRECTION_FIELD, LOG_INDEX_FIELD } from "../../core/audit/leaf.js";
import { LANE } from "./publish-queue.js";
import type { OutboxStore } from "./store.js";

/**
 * The clock became trustworthy: the readings of `epoch` still in the outbox get their
 * measurement_time moved by `deltaMs` and are marked "synced"; inside the caller's transaction.
 * A logged reading names the shift (whole ms, as the time moved), so that the reading its leaf
 * holds can be recomputed (docs/audit-log.md). Returns how many were corrected.
 */
export function rewriteEpoch(store: OutboxStore, epoch: number, deltaMs: number): number {
  const { statements, tally } = store;
  let corrected = 0;
  const rewrite = statements.rewrite; // transient: one statement for the whole loop
  for (const row of statements.epochRows.all(epoch)) {
    const reading = JSON.parse(row.payload) as ReeferReading;
    const before = Date.parse(reading.measurement_time);
    const moved = new Date(before + deltaMs);
    reading.measurement_time = moved.toISOString();
    reading.clock = "synced";
    if (LOG_INDEX_FIELD in reading)
      (reading as ReeferReading & Record<string, unknown>)[CLOCK_CORRECTION_FIELD] =
        moved.getTime() - before;
    const payload = JSON.stringify(reading);
    const bytes = Buffer.byteLength(payload);
    rewrite.run(payload, bytes, row.id);
    tally.forget(row.lane as typeof LANE.telemetry, row.bytes);
    tally.remember(row.lane as typeof LANE.telemetry, bytes);
    corrected++;
  }
  return corrected;
}
