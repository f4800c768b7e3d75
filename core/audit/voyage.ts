import { ALERT_SCHEMA } from "../alerts.js";
import { LOG_INDEX_FIELD, logKeyOf, sameCapture } from "./leaf.js";
import type { LeafRange, LoggedRecord, LogVerdict } from "./verify-log.js";

/**
 * One container's cold chain over a time range, judged from its gateway's log verdict: complete
 * (no reading of it can be missing), intact (none can have been changed), and what the
 * temperatures were. A missing leaf of the gateway's log could have been any container's, so a
 * container is complete only where its gateway's log has no hole between its readings around
 * the range.
 */

export type TemperatureRange = { low: number; high: number };

export type VoyageReport = {
  containerId: string;
  from: string;
  to: string;
  gateways: string[];
  readings: number;
  complete: boolean;
  /** Why not complete: holes in the log around the range, seqs that no record carries. */
  missing: string[];
  intact: boolean;
  /** Why not intact: the log's verdict, where it touches this container's readings. */
  altered: string[];
  /**
   * Readings nothing proves: past the last checkpoint (not yet signed for), or outside the log
   * (no log index). Present and counted, but an insider could have written them.
   */
  unverifiedReadings: number;
  unverified: string[];
  /**
   * What the edge raised about the container in the range, each alert once, in time order: the
   * alerts are leaves of the log too, so `verified` ones are proven as captured, and a deleted
   * one is a hole like a deleted reading.
   */
  alerts: VoyageAlert[];
  temperature: {
    min: number | null;
    max: number | null;
    /** The range judged against (given, or each reading's setpoint ± DEFAULT_TOLERANCE_C). */
    range: TemperatureRange | null;
    /** Time from each reading out of range to the next reading (or to the range's end). */
    secondsOutOfRange: number;
  };
};

/** An edge alert (reefer.alert.v1) as the voyage report names it. */
export type VoyageAlert = {
  alertId: string;
  type: string;
  state: string;
  severity: string;
  /** When it was raised or cleared (alert_time), or its window's start (temperature_window). */
  time: string;
  /** In the log, under a signed checkpoint, in a log not found altered there. */
  verified: boolean;
};

/** Without a range given: a reading's own setpoint ± this many °C. */
export const DEFAULT_TOLERANCE_C = 2;

/** A reading of the lake; `index` null: outside the log; `log`: its gateway's log (logKeyOf). */
type Reading = {
  record: LoggedRecord;
  log: string;
  index: number | null;
  seq: number;
  time: number;
};

function readingOf(record: LoggedRecord): Reading | null {
  const index = record[LOG_INDEX_FIELD];
  const seq = record.seq;
  const time =
    typeof record.measurement_time === "string" ? Date.parse(record.measurement_time) : NaN;
  if (typeof seq !== "number" || Number.isNaN(time)) return null;
  return {
    record,
    log: logKeyOf(record),
    index: typeof index === "number" ? index : null,
    seq,
    time,
  };
}

const overlaps = (a: LeafRange, b: LeafRange): boolean => a.from < b.to && b.from < a.to;

export function voyageReport(
  containerId: string,
  window: { from: Date; to: Date },
  records: readonly LoggedRecord[],
  verdicts: ReadonlyMap<string, LogVerdict>,
  range?: TemperatureRange,
): VoyageReport {
  const from = window.from.getTime();
  const to = window.to.getTime();
  // Each (gateway, seq) once: the lake may hold a reading twice (delivered again after a drop).
  const all = new Map<string, Reading>();
  const shadowed: string[] = [];
  for (const record of records) {
    if (record.container_id !== containerId) continue;
    const reading = readingOf(record);
    if (!reading) continue;
    const key = `${String(record.gateway_id)} ${reading.seq}`;
    // Unlogged copies are compared by gateway and seq: they name no log.
    const seen = all.get(key);
    // A reading outside the log never stands in for one in it, in whichever order the lake holds
    // them: the logged one is what was signed, and the other one is not the gateway's.
    if (seen !== undefined && (seen.index === null) !== (reading.index === null)) {
      if (sameCapture(seen.record, reading.record)) {
        if (reading.index !== null) all.set(key, reading); // the logged copy is the one signed
        continue;
      }
      shadowed.push(
        `${String(record.gateway_id)}: seq ${reading.seq} of ${containerId} appears outside the log too`,
      );
      if (reading.index === null) continue;
    }
    all.set(key, reading);
  }
  const sorted = [...all.values()].sort((a, b) => a.time - b.time || a.seq - b.seq);
  const inside = sorted.filter((r) => r.time >= from && r.time < to);
  // The nearest logged readings around the range: where a hole in the log could hide one.
  const before = sorted.filter((r) => r.time < from && r.index !== null).at(-1);
  const after = sorted.find((r) => r.time >= to && r.index !== null);
  const gateways = [...new Set(inside.map((r) => r.log))].sort();

  const missing: string[] = [];
  const altered: string[] = [...shadowed];
  const unverified: string[] = [];
  let unverifiedReadings = 0;
  for (const gateway of gateways.length > 0 ? gateways : gatewaysAround(before, after)) {
    const verdict = verdicts.get(gateway);
    if (!verdict) {
      missing.push(`no log verdict for gateway ${gateway}`);
      continue;
    }
    const mine = [before, ...inside, after].filter(
      (r): r is Reading => r !== undefined && r.log === gateway,
    );
    // The span of the log in which a reading of this container in the range could have been.
    const span: LeafRange = {
      from: before?.log === gateway ? (before.index ?? 0) : 0,
      to:
        after?.log === gateway
          ? (after.index ?? Number.MAX_SAFE_INTEGER - 1) + 1
          : Number.MAX_SAFE_INTEGER,
    };
    for (const hole of verdict.missing)
      if (overlaps(hole, span))
        missing.push(`${gateway}: leaves ${hole.from}-${hole.to - 1} missing`);
    if (verdict.altered && overlaps(verdict.altered, span))
      altered.push(
        `${gateway}: leaves ${verdict.altered.from}-${verdict.altered.to - 1}: ${verdict.alteredBecause.join("; ")}`,
      );
    const unsigned = inside.filter(
      (r) => r.log === gateway && r.index !== null && r.index >= verdict.verifiedSize,
    ).length;
    const unlogged = inside.filter((r) => r.log === gateway && r.index === null).length;
    const covered = inside.filter(
      (r) =>
        r.log === gateway &&
        r.index !== null &&
        r.index < verdict.verifiedSize &&
        verdict.coveredByGap.some((c) => r.index !== null && r.index >= c.from && r.index < c.to),
    ).length;
    if (covered > 0)
      unverified.push(
        `${gateway}: ${covered} readings published, then dropped on the gateway before the broker acknowledged them (the gap record's hash stands in for them)`,
      );
    unverifiedReadings += covered;
    if (unsigned > 0)
      unverified.push(
        `${gateway}: ${unsigned} readings past the last checkpoint (not yet signed for)`,
      );
    if (unlogged > 0)
      unverified.push(`${gateway}: ${unlogged} readings outside the log (no ${LOG_INDEX_FIELD})`);
    unverifiedReadings += unsigned + unlogged;
    // Leaves the gateway declared dropped: not holes, but readings the record lacks, and why.
    const dropped = new Map<number, string>();
    for (const run of verdict.dropped) {
      if (!overlaps(run, span)) continue;
      for (const [first, last] of run.readings.get(containerId) ?? [])
        for (let seq = first; seq <= last; seq++) dropped.set(seq, run.reason);
    }
    const bySeq = [...mine].sort((a, b) => a.seq - b.seq);
    for (const [i, next] of bySeq.entries()) {
      const previous = bySeq[i - 1];
      if (!previous || next.seq - previous.seq <= 1) continue;
      const lost = `${gateway}: seq ${previous.seq + 1}-${next.seq - 1} of ${containerId}`;
      const reasons = new Set<string>();
      for (let seq = previous.seq + 1; seq < next.seq; seq++)
        reasons.add(dropped.get(seq) ?? "not found");
      missing.push(
        reasons.has("not found")
          ? lost
          : `${lost} dropped on the gateway (${[...reasons].join(", ")})`,
      );
    }
  }

  const alerts = alertsOf(containerId, records, verdicts, from, to);
  const unlogged = alerts.filter((a) => a.index === null).length;
  const unsigned = alerts.length - unlogged - alerts.filter((a) => a.verified).length;
  if (unlogged > 0) unverified.push(`${unlogged} alerts outside the log (no ${LOG_INDEX_FIELD})`);
  if (unsigned > 0)
    unverified.push(`${unsigned} alerts past the last checkpoint or in an altered stretch`);

  return {
    containerId,
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    gateways,
    readings: inside.length,
    complete: missing.length === 0,
    missing,
    intact: altered.length === 0,
    altered,
    unverifiedReadings,
    unverified,
    alerts: alerts.map(({ index: _index, ...alert }) => alert),
    temperature: temperatures(inside, to, range),
  };
}

/** The container's edge alerts in [from, to), each once (by gateway and alert id), in time order. */
function alertsOf(
  containerId: string,
  records: readonly LoggedRecord[],
  verdicts: ReadonlyMap<string, LogVerdict>,
  from: number,
  to: number,
): (VoyageAlert & { index: number | null })[] {
  const found = new Map<string, VoyageAlert & { index: number | null }>();
  for (const record of records) {
    if (record.schema !== ALERT_SCHEMA || record.container_id !== containerId) continue;
    const at = record.alert_time ?? record.window_start;
    const time = typeof at === "string" ? Date.parse(at) : NaN;
    if (Number.isNaN(time) || time < from || time >= to) continue;
    const index = typeof record[LOG_INDEX_FIELD] === "number" ? record[LOG_INDEX_FIELD] : null;
    const verdict = verdicts.get(logKeyOf(record));
    const verified =
      index !== null &&
      verdict !== undefined &&
      index < verdict.verifiedSize &&
      !(verdict.altered && index >= verdict.altered.from && index < verdict.altered.to);
    const key = `${String(record.gateway_id)} ${String(record.alert_id)}`;
    const seen = found.get(key);
    // The copy in the log stands for the alert (one sent from memory may be outside it).
    if (seen !== undefined && (seen.index !== null || index === null)) continue;
    found.set(key, {
      alertId: String(record.alert_id),
      type: String(record.alert_type),
      state: String(record.state),
      severity: String(record.severity),
      time: new Date(time).toISOString(),
      verified,
      index,
    });
  }
  return [...found.values()].sort((a, b) => a.time.localeCompare(b.time));
}

function gatewaysAround(...readings: (Reading | undefined)[]): string[] {
  return [...new Set(readings.filter((r) => r !== undefined).map((r) => r.log))];
}

function temperatures(readings: readonly Reading[], end: number, given?: TemperatureRange) {
  let min: number | null = null;
  let max: number | null = null;
  let outMs = 0;
  for (const [i, r] of readings.entries()) {
    const t = r.record.temperature;
    if (typeof t !== "number") continue;
    min = min === null ? t : Math.min(min, t);
    max = max === null ? t : Math.max(max, t);
    const range = given ?? setpointRange(r.record);
    if (range && (t < range.low || t > range.high))
      outMs += (readings[i + 1]?.time ?? end) - r.time;
  }
  return { min, max, range: given ?? null, secondsOutOfRange: outMs / 1000 };
}

function setpointRange(record: LoggedRecord): TemperatureRange | null {
  const target = record.target_temperature;
  if (typeof target !== "number") return null;
  return { low: target - DEFAULT_TOLERANCE_C, high: target + DEFAULT_TOLERANCE_C };
}
