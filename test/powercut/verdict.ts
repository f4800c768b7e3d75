import { existsSync, readFileSync } from "node:fs";
import type { ReeferReading } from "../../core/record.js";

/** What one cut found (either rig: the FUSE disk's or the whole guest's). */
export interface CutRecord {
  /** Where the cut landed: a named point of the FUSE rig, or "random". */
  readonly point: string;
  /** The operation the disk froze at ("fsync outbox.db-wal"), or "command" for a random cut. */
  readonly cutAt: string;
  /** The armed operation never came within the wait; the rig cut by command instead. */
  readonly reached: boolean;
  /** From the agent's start to its first reading at the broker, ms; null if none before the cut. */
  readonly firstPublishMs: number | null;
}

/** The invariants over every gateway a rig ran, checked from outside the cut. */
export interface Verdict {
  readonly cuts: number;
  /** Readings reported captured (durable), and of those, the ones never delivered as captured. */
  readonly captured: number;
  readonly lost: string[];
  /** (gateway, container, seq) delivered with two different readings, or unlike its capture. */
  readonly conflicts: string[];
  readonly delivered: number;
  readonly duplicates: number;
  /** Outboxes moved aside as corrupt at a start after a cut. */
  readonly recoveries: number;
  /** Starts after which the agent exited by itself (a crash loop would show here). */
  readonly failedStarts: string[];
  /** For a failure message: what the agents said at the end about what they did not deliver. */
  readonly diagnosis: string;
  /** The slowest first publish after a restart, ms. */
  readonly slowestFirstPublishMs: number;
}

/** What the observers outside the cut saw, for `judge`. */
export interface Observed {
  /** The gateways the rig ran: readings of others on the broker are not its business. */
  readonly gateways: readonly string[];
  /** Every reading the monitoring subscriber received, duplicates included. */
  readonly delivered: readonly ReeferReading[];
  /** Every line of the captured reports, as [key, body]: a seq given twice shows twice. */
  readonly captured: readonly (readonly [string, string])[];
  readonly cuts: readonly CutRecord[];
  readonly recoveries: number;
  readonly failedStarts: readonly string[];
  readonly diagnosis: string;
}

/**
 * The invariants: nothing reported captured is missing at the broker (byte for byte, or with
 * its clock corrected), and no (gateway, container, seq) was delivered with two different
 * readings, captured twice, or delivered as another reading than the one captured.
 */
export function judge(seen: Observed): Verdict {
  // Every reading, by (gateway, container, seq): each body it was delivered with.
  const delivered = new Map<string, Set<string>>();
  const ours = seen.delivered.filter((r) => seen.gateways.includes(r.gateway_id));
  for (const reading of ours) {
    const key = keyOf(reading);
    const set = delivered.get(key) ?? new Set<string>();
    set.add(JSON.stringify(reading));
    delivered.set(key, set);
  }
  const conflicts = new Set<string>();
  for (const [key, set] of delivered) if (set.size > 1) conflicts.add(key);
  const capturedBodies = new Map<string, string>();
  const lost: string[] = [];
  for (const [key, body] of seen.captured) {
    const before = capturedBodies.get(key);
    if (before !== undefined && before !== body) conflicts.add(key); // one seq, two captures
    capturedBodies.set(key, body);
    const arrived = [...(delivered.get(key) ?? [])];
    if (!arrived.some((d) => sameReading(body, d))) {
      lost.push(key);
      if (arrived.length > 0) conflicts.add(key); // delivered, but another reading
    }
  }
  const distinctDelivered = delivered.size;
  const firsts = seen.cuts.flatMap((r) => (r.firstPublishMs === null ? [] : [r.firstPublishMs]));
  return {
    cuts: seen.cuts.length,
    captured: seen.captured.length,
    lost,
    conflicts: [...conflicts],
    delivered: distinctDelivered,
    duplicates: ours.length - distinctDelivered,
    recoveries: seen.recoveries,
    failedStarts: [...seen.failedStarts],
    diagnosis: seen.diagnosis,
    slowestFirstPublishMs: Math.max(0, ...firsts),
  };
}

/**
 * The reading captured as `captured` arrived as `delivered`: the same bytes, or the same
 * reading with its clock corrected (captured "unsynced", delivered "synced" with its time
 * moved by the correction; docs/wire-contract.md), and nothing else changed.
 */
export function sameReading(captured: string, delivered: string): boolean {
  if (captured === delivered) return true;
  const a = JSON.parse(captured) as ReeferReading;
  const b = JSON.parse(delivered) as ReeferReading;
  if (a.clock !== "unsynced" || b.clock !== "synced") return false;
  // A logged reading names its shift (the audit log's clock_correction_ms): it must be the one
  // its time moved by.
  const shift = (b as ReeferReading & { clock_correction_ms?: number }).clock_correction_ms;
  if (
    shift !== undefined &&
    Date.parse(b.measurement_time) - Date.parse(a.measurement_time) !== shift
  )
    return false;
  const rest = (r: ReeferReading) =>
    JSON.stringify({ ...r, measurement_time: 0, clock: 0, clock_correction_ms: 0 });
  return rest(a) === rest(b);
}

/**
 * The captured report's lines (`run --captured-report`), as [key, body]. A line that is not
 * whole JSON was cut off on its way out (a guest's serial line at the power cut): it claims
 * nothing, so it is left out. Carriage returns from a serial line's output processing go too.
 */
export function readCapturedReport(path: string): [string, string][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .flatMap((raw) => {
      const line = raw.replace(/\r/g, "");
      if (!line) return [];
      let reading: ReeferReading;
      try {
        reading = JSON.parse(line) as ReeferReading;
      } catch {
        return [];
      }
      return [[keyOf(reading), JSON.stringify(reading)] as [string, string]];
    });
}

export function keyOf(reading: ReeferReading): string {
  return `${reading.gateway_id}/${reading.container_id}/${reading.seq}`;
}
