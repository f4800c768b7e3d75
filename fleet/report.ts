import type { ReleaseOutcome } from "./fleet-release.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FleetConfig } from "../config/fleet-schema.js";
import type { GatewayResult } from "./protocol.js";
import type { SteadyCpu } from "./steady-cpu.js";

/** What one chaos event did to the fleet. */
export interface ChaosOutcome {
  readonly kind: string;
  /** Seconds after the fleet was connected. */
  readonly atSeconds: number;
  /** Seconds the fault lasted (the broker down, the link cut or slow). */
  readonly faultSeconds: number;
  /** Seconds from the fault's end until every gateway was connected again; null: never. */
  readonly backAfterSeconds: number | null;
  /** Highest CONNECT attempts in one second, from the fault until all were back. */
  readonly peakConnectAttemptsPerSecond: number;
  /** The same at the broker (its log), when the fleet started it. */
  readonly peakBrokerConnectsPerSecond: number | null;
  /**
   * What the reconnect policy's jitter implies for that peak: gateways over the span the first
   * retry is drawn from (the fleet's connect window, or the first delay if that is longer).
   */
  readonly impliedPeakPerSecond: number;
  /**
   * CONNECTs a second from the fault until all were back, as the broker logged them when the
   * fleet started it, else as the gateways counted their attempts: what the report charts.
   */
  readonly connectsPerSecond?: readonly number[];
  /** A release's reach and rollback (kind "release"). */
  readonly release?: ReleaseOutcome;
}

export interface GatewayLine extends GatewayResult {
  readonly lost: number;
  readonly duplicates: number;
}

export interface FleetReport {
  readonly gateways: number;
  readonly containers: number;
  readonly shard: string;
  readonly rampSeconds: number | null;
  readonly runSeconds: number;
  readonly captured: number;
  readonly acknowledged: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly evicted: number;
  readonly deadLettered: number;
  readonly backlogLeft: number;
  /** Slowest gateway's drain after sampling stopped; null if one never drained. */
  readonly drainSeconds: number | null;
  readonly alerts: number;
  readonly reconnects: number;
  readonly peakRssBytes: number;
  /** Of the peak RSS, V8's committed heap (JavaScript objects, code, free space), summed over the workers. */
  readonly heapAtPeakRssBytes: number;
  /** CPU the worker processes used, start to end (certificates, ramp, run, drain). */
  readonly workerCpuSeconds: number;
  /** CPU a reading between the ramp and the first chaos event; null: no such window. */
  readonly steadyCpu: SteadyCpu | null;
  readonly chaos: readonly ChaosOutcome[];
  readonly observed: boolean;
  readonly perGateway: readonly GatewayLine[];
}

/**
 * Seqs a gateway captured in this run that the observer never received: every seq from each
 * container's first to its last captured one (a container's seqs are consecutive), less the
 * ones evicted under the budget, which the outbox counted.
 */
export function lostSeqs(
  result: GatewayResult,
  received: (container: string, seq: number) => boolean,
): { container: string; seq: number }[] {
  const lost: { container: string; seq: number }[] = [];
  for (const range of result.containers) {
    for (let seq = range.first; seq <= range.last; seq++) {
      if (!received(range.id, seq)) lost.push({ container: range.id, seq });
    }
  }
  return lost;
}

/** The end-of-run table: totals, chaos, and the gateways that need a look. */
export function formatReport(report: FleetReport): string {
  const n = (value: number) => value.toLocaleString("en-US");
  const s = (value: number | null) => (value === null ? "never" : `${value.toFixed(1)} s`);
  const lines = [
    `fleet report (shard ${report.shard}): ${n(report.gateways)} gateways, ${n(report.containers)} containers`,
    "",
    row("ramp to all connected", s(report.rampSeconds)),
    row("sampling ran", `${report.runSeconds.toFixed(0)} s`),
    row("readings captured", n(report.captured)),
    row("readings acknowledged", n(report.acknowledged)),
    row(
      "readings received",
      report.observed ? n(report.received) : "not observed (observe: false)",
    ),
    row("readings lost", report.observed ? n(report.lost) : "unknown"),
    row("duplicates", report.observed ? n(report.duplicates) : "unknown"),
    row("evicted under the budget", n(report.evicted)),
    row("dead-lettered", n(report.deadLettered)),
    row("backlog left", n(report.backlogLeft)),
    row("time to drain", s(report.drainSeconds)),
    row("alerts", n(report.alerts)),
    row("reconnects", n(report.reconnects)),
    row(
      "peak RSS of the workers",
      `${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${(report.heapAtPeakRssBytes / 2 ** 20).toFixed(0)} MiB of it V8's heap`,
    ),
    row("CPU of the workers", `${report.workerCpuSeconds.toFixed(1)} s`),
    row(
      "CPU a reading, steady",
      report.steadyCpu
        ? `${report.steadyCpu.msPerReading.toFixed(2)} ms, ${report.steadyCpu.systemMsPerReading.toFixed(2)} of it in the kernel (${report.steadyCpu.readings} readings over ${report.steadyCpu.seconds.toFixed(0)} s, after the ramp and before any chaos)`
        : "-",
    ),
  ];
  if (report.chaos.length > 0) {
    lines.push("", "chaos:");
    lines.push(
      "  event            at      fault   back after   peak CONNECT/s (fleet / broker / jitter implies)",
    );
    for (const c of report.chaos) {
      lines.push(
        `  ${c.kind.padEnd(16)} ${`${c.atSeconds.toFixed(0)} s`.padStart(6)} ${`${c.faultSeconds.toFixed(0)} s`.padStart(8)}` +
          ` ${s(c.backAfterSeconds).padStart(12)}   ${c.peakConnectAttemptsPerSecond} / ` +
          `${c.peakBrokerConnectsPerSecond ?? "-"} / ${Math.round(c.impliedPeakPerSecond)}`,
      );
    }
    for (const c of report.chaos) {
      if (!c.connectsPerSecond || c.connectsPerSecond.length === 0) continue;
      const chart = chartPerSecond(c.connectsPerSecond);
      lines.push(
        "",
        `CONNECTs a second after the ${c.kind}, from the fault until all were back ` +
          `(${chart.secondsPerColumn === 1 ? "a column a second" : `a column ${chart.secondsPerColumn} s, its busiest second`}; top: ${chart.peak}/s):`,
        `  |${chart.line}|`,
      );
    }
    for (const r of report.chaos.flatMap((c) => (c.release ? [c.release] : []))) {
      lines.push(
        "",
        `release ${r.version} (${r.behaviour}): notified ${n(r.notified)} of ${n(r.gateways)}, ` +
          `installed on ${n(r.exposed)} (${r.exposedPercent} % of the fleet), ` +
          `${r.abortedAfterSeconds === null ? "not aborted" : `aborted after ${s(r.abortedAfterSeconds)}`}; ${n(r.succeeded)} succeeded, ${n(r.failed)} failed, ` +
          `${n(r.canceled)} cancelled; ${n(r.rolledBack)} rolled back by themselves, the slowest ` +
          `${r.slowestRollbackSeconds.toFixed(1)} s after its install; all ended after ${s(r.endedAfterSeconds)}`,
      );
    }
  }
  const attention = report.perGateway
    .filter((g) => g.lost > 0 || g.backlog > 0 || g.duplicates > 0 || g.drainMs === null)
    .sort((a, b) => b.lost - a.lost || b.backlog - a.backlog || b.duplicates - a.duplicates)
    .slice(0, 20);
  if (attention.length > 0) {
    lines.push("", "gateways to look at (first 20):");
    lines.push("  gateway              captured  acknowledged  lost  duplicates  backlog  drained");
    for (const g of attention) {
      lines.push(
        `  ${g.id.padEnd(20)} ${String(g.captured).padStart(8)} ${String(g.acknowledged).padStart(13)}` +
          ` ${String(g.lost).padStart(5)} ${String(g.duplicates).padStart(11)} ${String(g.backlog).padStart(8)}` +
          `  ${g.drainMs === null ? "no" : `${(g.drainMs / 1000).toFixed(1)} s`}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(26)} ${value}`;
}

/** Writes the report as JSON under the data folder; returns its path. */
export function saveReport(fleet: FleetConfig, report: FleetReport): string {
  const dir = join(fleet.dataDir, "reports");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `fleet-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  return file;
}

/** The highest count of one second in [from, to] (Unix seconds). */
/** The per-second counts from `from` to `to` (seconds), 0 where none was counted. */
export function seriesPerSecond(
  perSecond: ReadonlyMap<number, number>,
  from: number,
  to: number,
): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => perSecond.get(from + i) ?? 0);
}

const BARS = " ▁▂▃▄▅▆▇█";

/**
 * A one-line chart of a per-second series: one column a second, or the highest of each group of
 * seconds when the series is longer than `width` columns; eight heights against the peak, a blank
 * for none. With the scale it was drawn at, for the report.
 */
export function chartPerSecond(
  series: readonly number[],
  width = 72,
): { line: string; secondsPerColumn: number; peak: number } {
  const secondsPerColumn = Math.max(1, Math.ceil(series.length / width));
  const columns: number[] = [];
  for (let at = 0; at < series.length; at += secondsPerColumn)
    columns.push(Math.max(...series.slice(at, at + secondsPerColumn)));
  const peak = Math.max(0, ...columns);
  const line = columns
    .map((n) => (n <= 0 || peak === 0 ? BARS[0] : BARS[Math.max(1, Math.round((n / peak) * 8))]))
    .join("");
  return { line, secondsPerColumn, peak };
}

export function peakPerSecond(
  perSecond: ReadonlyMap<number, number>,
  from: number,
  to: number,
): number {
  let highest = 0;
  for (const [second, n] of perSecond)
    if (second >= from && second <= to) highest = Math.max(highest, n);
  return highest;
}
