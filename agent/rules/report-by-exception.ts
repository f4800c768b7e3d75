import type { ReportByExceptionConfig } from "../../config/rules-schema.js";
import { BOOLEAN_FIELDS, type NumericField, type UnsequencedReading } from "../../core/record.js";

interface LastSent {
  readonly at: number;
  readonly values: UnsequencedReading;
}

/** A reading held back, waiting for its window to close. */
export interface HeldReading {
  readonly containerId: string;
  readonly seq: number;
  readonly t: number;
}

/** What the rules know that decides a held reading's fate. */
export interface WindowJudge {
  isWindowClosed(containerId: string, t: number, now: number): boolean;
  windowStart(t: number): number;
}

/** The fate of held readings whose window closed: published after all, or dropped (counted). */
export interface HeldPlan {
  readonly promote: Map<string, number[]>;
  readonly drop: Map<string, number[]>;
  /** Held readings still waiting, this tick's included. */
  readonly waiting: readonly HeldReading[];
}

/**
 * Report by exception for routine telemetry: a reading is published when a field moved more
 * than its deadband since the last published reading, when a boolean (fan, defrost) or a
 * null-ness changed, when `maxSilenceSeconds` passed, or when the rules find it noteworthy
 * (over the threshold, in a window with readings over it, or while an alert is raised). The
 * others are held, not discarded: they are captured in the held lane, and when their window
 * closes they are published if it had readings over the threshold, else dropped and counted.
 */
export class ReportByException {
  private readonly last = new Map<string, LastSent>();
  /** Captured held readings whose window is still open. */
  private held: readonly HeldReading[] = [];

  constructor(private configs: ReadonlyMap<string, ReportByExceptionConfig>) {}

  /** New settings (a reloaded config); what was last published stays the reference. */
  update(configs: ReadonlyMap<string, ReportByExceptionConfig>): void {
    this.configs = configs;
  }

  /** Whether this container uses report by exception at all. */
  applies(containerId: string): boolean {
    return this.configs.has(containerId);
  }

  /** True: publish now. False: hold. Records a published reading as the new reference. */
  decide(reading: UnsequencedReading, t: number, noteworthy: boolean): boolean {
    const config = this.configs.get(reading.container_id);
    if (!config) return true;
    const last = this.last.get(reading.container_id);
    const publish =
      noteworthy ||
      !last ||
      t - last.at >= config.maxSilenceSeconds * 1000 ||
      changed(reading, last.values, config);
    if (publish) this.last.set(reading.container_id, { at: t, values: { ...reading } });
    return publish;
  }

  /** The plan for the held readings, this tick's `newlyHeld` included (see planHeld). */
  plan(
    newlyHeld: readonly HeldReading[],
    windowsOver: ReadonlySet<string>,
    now: number,
    windows: WindowJudge,
  ): HeldPlan | null {
    if (this.held.length === 0 && newlyHeld.length === 0) return null;
    return planHeld([...this.held, ...newlyHeld], windowsOver, now, windows);
  }

  /** The plan's commit succeeded: what waits is what it left waiting. */
  settle(plan: HeldPlan): void {
    this.held = plan.waiting;
  }
}

/**
 * Held readings (those already captured, and `newlyHeld` of this tick) whose window closed by
 * `now`: promoted when the window had readings over the threshold (a `windowsOver` start), else
 * dropped. Nothing changes until `settle` is called with the plan, after its commit.
 */
export function planHeld(
  held: readonly HeldReading[],
  windowsOver: ReadonlySet<string>,
  now: number,
  windows: WindowJudge,
): HeldPlan {
  const promote = new Map<string, number[]>();
  const drop = new Map<string, number[]>();
  const waiting: HeldReading[] = [];
  for (const h of held) {
    if (!windows.isWindowClosed(h.containerId, h.t, now)) {
      waiting.push(h);
      continue;
    }
    const target = windowsOver.has(`${h.containerId}:${windows.windowStart(h.t)}`) ? promote : drop;
    const seqs = target.get(h.containerId);
    if (seqs) seqs.push(h.seq);
    else target.set(h.containerId, [h.seq]);
  }
  return { promote, drop, waiting };
}

function changed(
  reading: UnsequencedReading,
  last: UnsequencedReading,
  config: ReportByExceptionConfig,
): boolean {
  for (const field of BOOLEAN_FIELDS) if (reading[field] !== last[field]) return true;
  for (const [field, band] of Object.entries(config.deadbands) as [NumericField, number][]) {
    const now = reading[field];
    const before = last[field];
    if ((now === null) !== (before === null)) return true;
    if (now !== null && before !== null && Math.abs(now - before) > band) return true;
  }
  return false;
}
