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

/** The field naming which of its gateway's logs a record is in (one per outbox file). */
export const LOG_ID_FIELD = "log_id";

/**
 * Which log a record of the lake belongs to: its gateway, and its log id when it names one
 * (`<gateway>/<log id>`); records are verified log by log.
 */
export function logKeyOf(record: Readonly<Record<string, unknown>>): string {
  const gateway = String(record.gateway_id);
  const logId = record[LOG_ID_FIELD];
  return typeof logId === "string" ? `${gateway}/${logId}` : gateway;
}

/**
 * A clock correction rewrites readings captured before the clock was set (their time moved by
 * the correction, `clock` made "synced"). The rewritten reading names the shift in this field, so
 * that the reading as captured, which the log holds, can be recomputed from it.
 */
export const CLOCK_CORRECTION_FIELD = "clock_correction_ms";

/** A record's bytes in the log: its canonical JSON as captured. */
export function leafBytes(record: Readonly<Record<string, unknown>>): Buffer {
  return Buffer.from(canonicalJson(record), "utf8");
}

/**
 * RFC 8785 (JCS) of the record as captured: a leaf's text. For a record not clock-corrected it is
 * the record's own canonical JSON, which the gateway stores and publishes as the record itself.
 */
export function canonicalJson(record: Readonly<Record<string, unknown>>): string {
  const captured = CLOCK_CORRECTION_FIELD in record ? asCaptured(record) : record;
  const json = isFlat(captured) ? flatCanonical(captured) : canonicalize(captured);
  if (json === undefined) throw new Error("a logged record must be a JSON object");
  return json;
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

/**
 * Whether two records are the same capture, their log fields aside: a reading published from
 * memory before it was stored (write-behind, a failing disk) reaches the lake without a log
 * index, and again, stamped, from the outbox. Only a copy that differs is an alteration.
 */
export function sameCapture(
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
): boolean {
  const bare = (record: Readonly<Record<string, unknown>>) => {
    const captured = Object.entries(asCaptured(record)).filter(
      ([key]) => key !== LOG_ID_FIELD && key !== LOG_INDEX_FIELD,
    );
    return canonicalize(Object.fromEntries(captured));
  };
  try {
    return bare(a) === bare(b);
  } catch {
    return false; // a record that cannot be read as captured is nobody's copy
  }
}

/** Every value a string, a finite number, a boolean or null: a reading, not a nested record. */
function isFlat(record: Readonly<Record<string, unknown>>): boolean {
  for (const key in record) {
    const value = record[key];
    if (value === null || typeof value === "string" || typeof value === "boolean") continue;
    if (typeof value !== "number" || !Number.isFinite(value)) return false;
  }
  return true;
}

/**
 * JCS of a flat record, the gateway's hot path (a reading a commit): RFC 8785 writes strings and
 * numbers as ECMAScript's JSON.stringify does and orders keys by UTF-16 code units, as
 * Array.prototype.sort does, so for a record with no nested value it is JSON.stringify with the
 * keys sorted, about five times faster than the general canonicalize (test: leaf.test.ts).
 */
function flatCanonical(record: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(record, sortedKeysOf(record));
}

/**
 * The record with `extra` fields set, as an object whose keys are in JCS order, and its JSON,
 * which is then its canonical form: the gateway's path, one a reading. A plain JSON.stringify of
 * such an object is V8's fast path (a replacer list is not), and the same text is the payload
 * stored and published, so a reading is serialized once, not twice. Null when a plain
 * JSON.stringify would not be JCS: a nested or non-finite value, a key that JavaScript orders
 * before the others whatever the insertion order (an array index) or that an assignment cannot
 * set ("__proto__"), a clock correction.
 */
export function inCanonicalOrder(
  record: Readonly<Record<string, unknown>>,
  extra: Readonly<Record<string, string | number>>,
): { record: Record<string, unknown>; json: string } | null {
  if (CLOCK_CORRECTION_FIELD in record || !isFlat(record)) return null;
  const keys = canonicalKeysOf(record, extra);
  if (keys === null) return null;
  const ordered: Record<string, unknown> = {};
  for (const key of keys) ordered[key] = Object.hasOwn(extra, key) ? extra[key] : record[key];
  return { record: ordered, json: JSON.stringify(ordered) };
}

let lastOwn: readonly string[] = [];
let lastExtra: readonly string[] = [];
let lastCanonical: string[] | null = null;
/** The keys of record and extra in JCS order (null: one is an array index), the last shape's reused. */
function canonicalKeysOf(
  record: Readonly<Record<string, unknown>>,
  extra: Readonly<Record<string, unknown>>,
): string[] | null {
  const own = Object.keys(record);
  const added = Object.keys(extra);
  let same = own.length === lastOwn.length && added.length === lastExtra.length;
  for (let i = 0; same && i < own.length; i++) same = own[i] === lastOwn[i];
  for (let i = 0; same && i < added.length; i++) same = added[i] === lastExtra[i];
  if (!same) {
    lastOwn = own;
    lastExtra = added;
    const keys = [...new Set([...own, ...added])].sort();
    // An array index goes first whatever the insertion order; "__proto__" would set the prototype.
    lastCanonical = keys.some((key) => /^(0|[1-9]\d*)$/.test(key) || key === "__proto__")
      ? null
      : keys;
  }
  return lastCanonical;
}

/**
 * The record's keys sorted, reusing the last sort when the keys are the same in the same order:
 * a gateway's readings all have one shape, and the sort was a tenth of the log's cost a reading.
 */
let lastKeys: readonly string[] = [];
let lastSorted: string[] = [];
function sortedKeysOf(record: Readonly<Record<string, unknown>>): string[] {
  const keys = Object.keys(record);
  let same = keys.length === lastKeys.length;
  for (let i = 0; same && i < keys.length; i++) same = keys[i] === lastKeys[i];
  if (!same) {
    lastKeys = keys;
    lastSorted = [...keys].sort();
  }
  return lastSorted;
}
