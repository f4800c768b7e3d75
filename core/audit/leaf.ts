import canonicalize from "canonicalize";

/**
 * A logged record's leaf bytes (docs/audit-log.md): RFC 8785 (JCS) of the record as the gateway
 * captured it, in UTF-8. JCS because the lake keeps JSON that went through other hands (Firehose,
 * Athena, an export) with its keys in any order and its numbers written anew; the canonical form
 * of the same values is the same bytes. The `canonicalize` package is RFC 8785's own reference
 * implementation for JavaScript.
 */

/** The field each logged record carries: its index in its gateway's log. */
export const LOG_INDEX_FIELD = "log_index";

/**
 * A clock correction rewrites readings captured before the clock was set (their time moved by
 * the correction, `clock` made "synced"). The rewritten reading names the shift in this field, so
 * that the reading as captured, which the log holds, can be recomputed from it.
 */
export const CLOCK_CORRECTION_FIELD = "clock_correction_ms";

/** A record's bytes in the log: its canonical JSON as captured. */
export function leafBytes(record: Readonly<Record<string, unknown>>): Buffer {
  const json = canonicalize(asCaptured(record));
  if (json === undefined) throw new Error("a logged record must be a JSON object");
  return Buffer.from(json, "utf8");
}

/** The record as captured: a clock correction undone (see CLOCK_CORRECTION_FIELD). */
export function asCaptured(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const shift = record[CLOCK_CORRECTION_FIELD];
  if (shift === undefined) return { ...record };
  const time = record.measurement_time;
  if (typeof shift !== "number" || !Number.isSafeInteger(shift) || typeof time !== "string")
    throw new Error(`${CLOCK_CORRECTION_FIELD} must be whole ms on a reading with a time`);
  const captured = Object.fromEntries(
    Object.entries(record).filter(([key]) => key !== CLOCK_CORRECTION_FIELD),
  );
  return {
    ...captured,
    measurement_time: new Date(Date.parse(time) - shift).toISOString(),
    clock: "unsynced",
  };
}
