import type { ReportByExceptionConfig } from "../../config/rules-schema.js";
import { BOOLEAN_FIELDS, type NumericField, type UnsequencedReading } from "../record.js";

interface LastSent {
  readonly at: number;
  readonly values: UnsequencedReading;
}

/**
 * Report by exception for routine telemetry: a reading is published when a field moved more
 * than its deadband since the last published reading, when a boolean (fan, defrost) or a
 * null-ness changed, when `maxSilenceSeconds` passed, or when the rules find it noteworthy
 * (over the threshold, in a window with readings over it, or while an alert is raised). The
 * others are held, not discarded: the agent captures them and decides when their window closes.
 */
export class ReportByException {
  private readonly last = new Map<string, LastSent>();

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
