import type { RulesConfig } from "../../config/rules-schema.js";
import type { MeasurementField, ReeferReading } from "../../core/record.js";
import type { StateAlert } from "../../core/alerts.js";
import type { RaisePolicy, Verdict } from "./condition.js";

/** What a rule may know of its container besides the reading. */
export interface ContainerFacts {
  /** The temperature threshold in force, °C. */
  readonly threshold: number;
  /** Event time of the last reading in a defrost cycle, and with the door open. */
  readonly lastDefrostAt: number;
  readonly lastDoorAt: number;
}

/** The raise policies of the config, per rule family. */
export interface Policies {
  readonly excursion: RaisePolicy;
  readonly power: RaisePolicy;
  readonly fans: RaisePolicy;
  readonly atmosphere: RaisePolicy;
  readonly sensorFault: RaisePolicy;
}

/**
 * One stateful alert with a single condition per container: how a reading bears on it, what
 * the alert reports, and how long the condition must hold. The engine runs every enabled rule
 * of this table on every reading that could matter; a new alert is one entry here.
 */
export interface StateRule {
  readonly type: StateAlert["alert_type"];
  enabled(rules: RulesConfig): boolean;
  verdict(r: ReeferReading, t: number, facts: ContainerFacts, rules: RulesConfig): Verdict;
  /** The value the alert reports, and the limit it was judged against. */
  value(r: ReeferReading): number | boolean | null;
  limit(facts: ContainerFacts, rules: RulesConfig): number | null;
  policy(policies: Policies): RaisePolicy;
}

const always = () => true;

export const STATE_RULES: readonly StateRule[] = [
  {
    // Hysteresis, and suppressed while a defrost cycle or an open door explains the heat.
    type: "temperature_excursion",
    enabled: always,
    verdict(r, t, facts, rules) {
      const v = r.temperature;
      if (v === null) return "unknown";
      const limit = facts.threshold;
      const temperature = rules.temperature;
      if (v > limit) {
        const explained =
          r.defrost_cycle === true ||
          t - facts.lastDefrostAt < temperature.graceAfterDefrostSeconds * 1000 ||
          t - facts.lastDoorAt < temperature.graceAfterDoorSeconds * 1000;
        return explained ? "suppressed" : "on";
      }
      return v < limit - temperature.clearBand ? "off" : "hold";
    },
    value: (r) => r.temperature,
    limit: (facts) => facts.threshold,
    policy: (p) => p.excursion,
  },
  {
    type: "power_off",
    enabled: (rules) => rules.power.enabled,
    verdict: (r) => (r.kilowatts === null ? "unknown" : r.kilowatts === 0 ? "on" : "off"),
    value: (r) => r.kilowatts,
    limit: () => 0,
    policy: (p) => p.power,
  },
  {
    type: "fans_stopped",
    enabled: (rules) => rules.fans.enabled,
    verdict(r) {
      if (r.fan_1 === null && r.fan_2 === null && r.fan_3 === null) return "unknown";
      // Fans rest during defrost, and without power the power alert says it all.
      if (r.defrost_cycle === true || r.kilowatts === 0) return "hold";
      return fansStopped(r) ? "on" : "off";
    },
    value: fansStopped,
    limit: () => null,
    policy: (p) => p.fans,
  },
  {
    type: "oxygen_low",
    enabled: (rules) => rules.atmosphere.enabled,
    verdict(r, _t, _facts, { atmosphere }) {
      const o2 = r.oxygen_level;
      if (o2 === null) return "unknown";
      if (o2 < atmosphere.minOxygen) return "on";
      return o2 >= atmosphere.minOxygen + atmosphere.band ? "off" : "hold";
    },
    value: (r) => r.oxygen_level,
    limit: (_facts, rules) => rules.atmosphere.minOxygen,
    policy: (p) => p.atmosphere,
  },
  {
    type: "carbon_dioxide_high",
    enabled: (rules) => rules.atmosphere.enabled,
    verdict(r, _t, _facts, { atmosphere }) {
      const co2 = r.carbon_dioxide_level;
      if (co2 === null) return "unknown";
      if (co2 > atmosphere.maxCarbonDioxide) return "on";
      return co2 <= atmosphere.maxCarbonDioxide - atmosphere.band ? "off" : "hold";
    },
    value: (r) => r.carbon_dioxide_level,
    limit: (_facts, rules) => rules.atmosphere.maxCarbonDioxide,
    policy: (p) => p.atmosphere,
  },
];

/** The settings the fast path reads, flattened once per config (nested loads cost on the hot path). */
export interface FastPath {
  readonly power: boolean;
  readonly fans: boolean;
  readonly atmosphere: boolean;
  readonly minOxygen: number;
  readonly maxCarbonDioxide: number;
  readonly faultFields: readonly MeasurementField[];
}

export function fastPathOf(rules: RulesConfig): FastPath {
  return {
    power: rules.power.enabled,
    fans: rules.fans.enabled,
    atmosphere: rules.atmosphere.enabled,
    minOxygen: rules.atmosphere.minOxygen,
    maxCarbonDioxide: rules.atmosphere.maxCarbonDioxide,
    faultFields: rules.sensorFault.enabled ? [...rules.sensorFault.fields] : [],
  };
}

/**
 * Whether any enabled rule of STATE_RULES, or a sensor fault, could judge this reading `on`
 * (a superset: suppression is not checked). The engine's fast path for quiet containers: one
 * monomorphic call instead of every verdict, on the common reading where nothing is wrong.
 * Hand-written for that speed; state-rules.test.ts checks it against the verdicts.
 */
export function mayBeOn(r: ReeferReading, threshold: number, fast: FastPath): boolean {
  if (r.temperature !== null && r.temperature > threshold) return true;
  if (fast.power && r.kilowatts === 0) return true;
  if (fast.fans && (r.fan_1 === false || r.fan_2 === false || r.fan_3 === false)) return true;
  if (fast.atmosphere) {
    if (r.oxygen_level !== null && r.oxygen_level < fast.minOxygen) return true;
    if (r.carbon_dioxide_level !== null && r.carbon_dioxide_level > fast.maxCarbonDioxide)
      return true;
  }
  const fields = fast.faultFields;
  for (let i = 0; i < fields.length; i++)
    if (r[fields[i] as MeasurementField] === null) return true;
  return false;
}

function fansStopped(r: ReeferReading): boolean {
  return r.fan_1 === false || r.fan_2 === false || r.fan_3 === false;
}

export function policiesOf(rules: RulesConfig): Policies {
  const t = rules.temperature;
  return {
    excursion: {
      afterReadings: t.raiseAfterReadings,
      afterMs: t.raiseAfterSeconds === undefined ? null : t.raiseAfterSeconds * 1000,
    },
    power: timePolicy(rules.power.graceSeconds),
    fans: timePolicy(rules.fans.graceSeconds),
    atmosphere: timePolicy(rules.atmosphere.graceSeconds),
    sensorFault: timePolicy(rules.sensorFault.afterSeconds),
  };
}

function timePolicy(seconds: number): RaisePolicy {
  // Time alone decides; a grace of 0 raises on the first reading.
  return seconds === 0
    ? RAISE_AT_ONCE
    : { afterReadings: Number.POSITIVE_INFINITY, afterMs: seconds * 1000 };
}

const RAISE_AT_ONCE: RaisePolicy = { afterReadings: 1, afterMs: 0 };
