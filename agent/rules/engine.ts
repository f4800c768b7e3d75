import type { RulesConfig } from "../../config/rules-schema.js";
import type { Product } from "../products.js";
import type { ReeferReading } from "../record.js";
import { ALERT_SCHEMA, SEVERITY, type AlertRecord, type StateAlert } from "./alerts.js";
import { Condition, type RaisePolicy, type Transition, type Verdict } from "./condition.js";
import { eventTime } from "./event-time.js";
import { TumblingWindows, type WindowTally } from "./windows.js";

type StateType = StateAlert["alert_type"];

interface ContainerRules {
  readonly productId: string;
  threshold: number;
  readonly windows: TumblingWindows;
  // One slot per alert, made once: the hot path does no lookups and no allocation.
  readonly excursion: Condition;
  readonly power: Condition;
  readonly fans: Condition;
  readonly oxygen: Condition;
  readonly carbonDioxide: Condition;
  /** Sensor-fault conditions by field, created on first use (the field list may be reloaded). */
  readonly faults: Map<string, Condition>;
  lastDefrostAt: number;
  lastDoorAt: number;
  /** Every condition idle (nothing pending, nothing raised): the fast path applies. */
  quiet: boolean;
}

export interface RuleEngineOptions {
  readonly gatewayId: string;
  readonly rules: RulesConfig;
  /** Each container's product, for its threshold and setpoint. */
  readonly containers: ReadonlyMap<string, Product>;
}

/**
 * The edge rules for all containers of a gateway: the seed's windowed rule, and the stateful
 * alerts (temperature excursion with hysteresis and defrost/door suppression, power off, fans
 * stopped, O2 low, CO2 high, sensor faults). It judges each reading once, in event time, and
 * returns the alert records to capture; it does no I/O.
 */
export class RuleEngine {
  private rules: RulesConfig;
  private policies: Policies;
  private readonly state = new Map<string, ContainerRules>();

  constructor(private readonly options: RuleEngineOptions) {
    this.rules = options.rules;
    this.policies = policiesOf(options.rules);
    for (const [id, product] of options.containers) {
      this.state.set(id, {
        productId: product.id,
        threshold: thresholdFor(options.rules, product),
        windows: new TumblingWindows(
          options.rules.window.seconds * 1000,
          options.rules.window.allowedLatenessSeconds * 1000,
        ),
        excursion: new Condition(),
        power: new Condition(),
        fans: new Condition(),
        oxygen: new Condition(),
        carbonDioxide: new Condition(),
        faults: new Map(),
        lastDefrostAt: Number.NEGATIVE_INFINITY,
        lastDoorAt: Number.NEGATIVE_INFINITY,
        quiet: true,
      });
    }
  }

  /**
   * New rules (a reloaded config). Thresholds and policies apply from the next reading; open
   * windows and raised alerts carry on. A changed window length or lateness applies to the
   * windows opened from now on; those open keep their bounds.
   */
  update(rules: RulesConfig): void {
    this.rules = rules;
    this.policies = policiesOf(rules);
    for (const [id, container] of this.state) {
      const product = this.options.containers.get(id);
      if (product) container.threshold = thresholdFor(rules, product);
    }
  }

  /** The threshold in force for a container, °C. */
  thresholdOf(containerId: string): number | undefined {
    return this.state.get(containerId)?.threshold;
  }

  /** Whether the container has a raised alert, or a window with readings over the threshold at `t`. */
  isNoteworthy(containerId: string, t: number): boolean {
    const container = this.state.get(containerId);
    if (!container) return false;
    if (container.windows.hasOverAt(t)) return true;
    if (
      container.excursion.raised ||
      container.power.raised ||
      container.fans.raised ||
      container.oxygen.raised ||
      container.carbonDioxide.raised
    ) {
      return true;
    }
    for (const condition of container.faults.values()) if (condition.raised) return true;
    return false;
  }

  /** Start of the window holding event time `t`. */
  windowStart(t: number): number {
    const windowMs = this.rules.window.seconds * 1000;
    return Math.floor(t / windowMs) * windowMs;
  }

  /**
   * Whether the window holding event time `t` of a container is closed: by the container's
   * watermark, or on the wall clock `now` as `advanceTo` closes it.
   */
  isWindowClosed(containerId: string, t: number, now: number): boolean {
    const container = this.state.get(containerId);
    if (!container) return true;
    const end = this.windowStart(t) + this.rules.window.seconds * 1000;
    return (
      end <=
      Math.max(container.windows.watermark, now - this.rules.window.allowedLatenessSeconds * 1000)
    );
  }

  /** Readings that arrived after their window closed, all containers. */
  get lateReadings(): number {
    let late = 0;
    for (const container of this.state.values()) late += container.windows.late;
    return late;
  }

  /** Judges readings in arrival order; returns the alerts they raise, clear or close. */
  evaluate(readings: readonly ReeferReading[]): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (const reading of readings) {
      const container = this.state.get(reading.container_id);
      if (container) this.judge(container, reading, alerts);
    }
    return alerts;
  }

  /** Closes windows whose end is past on the wall clock (containers that went quiet). */
  advanceTo(now: number): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (const [id, container] of this.state) {
      for (const tally of container.windows.advanceTo(now))
        alerts.push(this.windowAlert(id, container, tally));
    }
    return alerts;
  }

  /** Closes every open window (shutdown, end of a replay). */
  flush(): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (const [id, container] of this.state) {
      for (const tally of container.windows.flush())
        alerts.push(this.windowAlert(id, container, tally));
    }
    return alerts;
  }

  private judge(container: ContainerRules, r: ReeferReading, alerts: AlertRecord[]): void {
    const t = eventTime(r.measurement_time);
    const closed = container.windows.add(t, r.temperature, r.seq, container.threshold);
    for (const tally of closed) alerts.push(this.windowAlert(r.container_id, container, tally));
    const rules = this.rules;
    if (r.defrost_cycle === true) container.lastDefrostAt = t;
    if (r.time_door_open !== null && r.time_door_open > 0) container.lastDoorAt = t;

    // Fast path: with every condition idle only an `on` verdict changes anything, and a reading
    // on which no rule is `on` is the common case at sea.
    if (container.quiet && !this.anyOn(container, r)) return;

    // Temperature excursion: hysteresis, suppressed while defrost or an open door explains it.
    const temperature = rules.temperature;
    const limit = container.threshold;
    const v = r.temperature;
    let verdict: Verdict;
    if (v === null) verdict = "unknown";
    else if (v > limit) {
      const explained =
        r.defrost_cycle === true ||
        t - container.lastDefrostAt < temperature.graceAfterDefrostSeconds * 1000 ||
        t - container.lastDoorAt < temperature.graceAfterDoorSeconds * 1000;
      verdict = explained ? "suppressed" : "on";
    } else verdict = v < limit - temperature.clearBand ? "off" : "hold";
    const policies = this.policies;
    this.step(
      container.excursion,
      verdict,
      container,
      r,
      t,
      alerts,
      "temperature_excursion",
      v,
      limit,
      policies.excursion,
    );

    if (rules.power.enabled) {
      const kw = r.kilowatts;
      const powerVerdict: Verdict = kw === null ? "unknown" : kw === 0 ? "on" : "off";
      this.step(
        container.power,
        powerVerdict,
        container,
        r,
        t,
        alerts,
        "power_off",
        kw,
        0,
        policies.power,
      );
    }
    if (rules.fans.enabled) {
      const known =
        (r.fan_1 !== null ? 1 : 0) + (r.fan_2 !== null ? 1 : 0) + (r.fan_3 !== null ? 1 : 0);
      const stopped = r.fan_1 === false || r.fan_2 === false || r.fan_3 === false;
      // Fans rest during defrost, and without power the power alert says it all.
      const excused = r.defrost_cycle === true || r.kilowatts === 0;
      const fanVerdict: Verdict =
        known === 0 ? "unknown" : excused ? "hold" : stopped ? "on" : "off";
      this.step(
        container.fans,
        fanVerdict,
        container,
        r,
        t,
        alerts,
        "fans_stopped",
        stopped,
        null,
        policies.fans,
      );
    }
    const atmosphere = rules.atmosphere;
    if (atmosphere.enabled) {
      const policy = policies.atmosphere;
      const o2 = r.oxygen_level;
      const o2Verdict: Verdict =
        o2 === null
          ? "unknown"
          : o2 < atmosphere.minOxygen
            ? "on"
            : o2 >= atmosphere.minOxygen + atmosphere.band
              ? "off"
              : "hold";
      this.step(
        container.oxygen,
        o2Verdict,
        container,
        r,
        t,
        alerts,
        "oxygen_low",
        o2,
        atmosphere.minOxygen,
        policy,
      );
      const co2 = r.carbon_dioxide_level;
      const co2Verdict: Verdict =
        co2 === null
          ? "unknown"
          : co2 > atmosphere.maxCarbonDioxide
            ? "on"
            : co2 <= atmosphere.maxCarbonDioxide - atmosphere.band
              ? "off"
              : "hold";
      this.step(
        container.carbonDioxide,
        co2Verdict,
        container,
        r,
        t,
        alerts,
        "carbon_dioxide_high",
        co2,
        atmosphere.maxCarbonDioxide,
        policy,
      );
    }
    const fault = rules.sensorFault;
    if (fault.enabled) {
      const policy = policies.sensorFault;
      for (const field of fault.fields) {
        let condition = container.faults.get(field);
        if (!condition) {
          condition = new Condition();
          container.faults.set(field, condition);
        }
        const value = r[field];
        this.step(
          condition,
          value === null ? "on" : "off",
          container,
          r,
          t,
          alerts,
          "sensor_fault",
          value,
          null,
          policy,
          field,
        );
      }
    }
    container.quiet = this.isQuiet(container);
  }

  /** Whether any rule could judge this reading `on` (a superset: suppression is not checked). */
  private anyOn(container: ContainerRules, r: ReeferReading): boolean {
    const rules = this.rules;
    if (r.temperature !== null && r.temperature > container.threshold) return true;
    if (rules.power.enabled && r.kilowatts === 0) return true;
    if (rules.fans.enabled && (r.fan_1 === false || r.fan_2 === false || r.fan_3 === false))
      return true;
    const atmosphere = rules.atmosphere;
    if (atmosphere.enabled) {
      if (r.oxygen_level !== null && r.oxygen_level < atmosphere.minOxygen) return true;
      if (r.carbon_dioxide_level !== null && r.carbon_dioxide_level > atmosphere.maxCarbonDioxide)
        return true;
    }
    if (rules.sensorFault.enabled) {
      for (const field of rules.sensorFault.fields) if (r[field] === null) return true;
    }
    return false;
  }

  private isQuiet(container: ContainerRules): boolean {
    if (
      !container.excursion.idle ||
      !container.power.idle ||
      !container.fans.idle ||
      !container.oxygen.idle ||
      !container.carbonDioxide.idle
    ) {
      return false;
    }
    for (const condition of container.faults.values()) if (!condition.idle) return false;
    return true;
  }

  private step(
    condition: Condition,
    verdict: Verdict,
    container: ContainerRules,
    r: ReeferReading,
    t: number,
    alerts: AlertRecord[],
    type: StateType,
    value: number | boolean | null,
    limit: number | null,
    policy: RaisePolicy,
    field?: string,
  ): void {
    // The common case, nothing happening, costs one check.
    if (verdict !== "on" && condition.idle) return;
    const transition = condition.step(verdict, t, r.seq, policy);
    if (transition)
      alerts.push(this.stateAlert(container, r, type, transition, value, limit, field));
  }

  private stateAlert(
    container: ContainerRules,
    r: ReeferReading,
    type: StateType,
    transition: Transition,
    value: number | boolean | null,
    limit: number | null,
    field: string | undefined,
  ): StateAlert {
    return {
      schema: ALERT_SCHEMA,
      alert_id: `${r.container_id}:${type}${field === undefined ? "" : `:${field}`}:${transition.firstSeq}:${transition.kind}`,
      alert_type: type,
      severity: SEVERITY[type],
      state: transition.kind,
      container_id: r.container_id,
      gateway_id: this.options.gatewayId,
      product_id: container.productId,
      first_seq: transition.firstSeq,
      last_seq: r.seq,
      alert_time: r.measurement_time,
      since: new Date(transition.since).toISOString(),
      value,
      limit,
      ...(field !== undefined && { field }),
    };
  }

  private windowAlert(
    containerId: string,
    container: ContainerRules,
    tally: WindowTally,
  ): AlertRecord {
    return {
      schema: ALERT_SCHEMA,
      alert_id: `${containerId}:temperature_window:${tally.start}`,
      alert_type: "temperature_window",
      severity: SEVERITY.temperature_window,
      state: "closed",
      container_id: containerId,
      gateway_id: this.options.gatewayId,
      product_id: container.productId,
      first_seq: tally.firstSeq,
      last_seq: tally.lastSeq,
      window_start: new Date(tally.start).toISOString(),
      window_end: new Date(tally.end).toISOString(),
      readings_over: tally.readingsOver,
      max_temperature: tally.maxTemperature,
      threshold: tally.threshold,
    };
  }
}

/** Explicit per-product threshold, else setpoint + tolerance when configured, else the default. */
export function thresholdFor(rules: RulesConfig, product: Product): number {
  const explicit = rules.temperature.products[product.id];
  if (explicit !== undefined) return explicit;
  if (rules.temperature.tolerance !== undefined)
    return product.targetTemperature + rules.temperature.tolerance;
  return rules.temperature.threshold;
}

interface Policies {
  readonly excursion: RaisePolicy;
  readonly power: RaisePolicy;
  readonly fans: RaisePolicy;
  readonly atmosphere: RaisePolicy;
  readonly sensorFault: RaisePolicy;
}

function policiesOf(rules: RulesConfig): Policies {
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
