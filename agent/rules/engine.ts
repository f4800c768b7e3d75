import type { RulesConfig } from "../../config/rules-schema.js";
import type { Product } from "../../core/products.js";
import type { ReeferReading } from "../../core/record.js";
import { stateAlert, windowAlert, type AlertSubject } from "./alert-records.js";
import type { AlertRecord } from "../../core/alerts.js";
import { Condition, type Verdict } from "./condition.js";
import { eventTime } from "./event-time.js";
import {
  fastPathOf,
  mayBeOn,
  policiesOf,
  STATE_RULES,
  type ContainerFacts,
  type FastPath,
  type Policies,
} from "./state-rules.js";
import { isFired, TumblingWindows, type WindowTally } from "./windows.js";

interface ContainerRules extends ContainerFacts, AlertSubject {
  threshold: number;
  lastDefrostAt: number;
  lastDoorAt: number;
  readonly windows: TumblingWindows;
  /** One condition per entry of STATE_RULES, made once: the hot path allocates nothing. */
  readonly conditions: readonly Condition[];
  /** Sensor-fault conditions by field, created on first use (the field list may be reloaded). */
  readonly faults: Map<string, Condition>;
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
 * The edge rules for all containers of a gateway: the seed rule's tumbling windows, and the
 * stateful alerts of STATE_RULES plus sensor faults. It judges each reading once, in event time,
 * and returns the alert records to capture; it does no I/O.
 */
export class RuleEngine {
  private rules: RulesConfig;
  private policies: Policies;
  private fast: FastPath;
  /** Per entry of STATE_RULES: enabled by the config in force. */
  private enabled: boolean[];
  /** Scratch space for one reading's verdicts (null: the rule is off). */
  private readonly verdicts: (Verdict | null)[] = STATE_RULES.map(() => null);
  private readonly state = new Map<string, ContainerRules>();

  constructor(private readonly options: RuleEngineOptions) {
    this.rules = options.rules;
    this.policies = policiesOf(options.rules);
    this.fast = fastPathOf(options.rules);
    this.enabled = STATE_RULES.map((rule) => rule.enabled(options.rules));
    for (const [id, product] of options.containers) {
      this.state.set(id, {
        gatewayId: options.gatewayId,
        containerId: id,
        productId: product.id,
        threshold: thresholdFor(options.rules, product),
        windows: new TumblingWindows(
          options.rules.window.seconds * 1000,
          options.rules.window.allowedLatenessSeconds * 1000,
        ),
        conditions: STATE_RULES.map(() => new Condition()),
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
    this.fast = fastPathOf(rules);
    this.enabled = STATE_RULES.map((rule) => rule.enabled(rules));
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
    for (const condition of container.conditions) if (condition.raised) return true;
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
    return isFired(
      end,
      Math.max(container.windows.watermark, now - this.rules.window.allowedLatenessSeconds * 1000),
    );
  }

  /** Readings that arrived after their window closed, all containers. */
  get lateReadings(): number {
    let late = 0;
    for (const container of this.state.values()) late += container.windows.late;
    return late;
  }

  /**
   * Judges readings in arrival order; returns the alerts they raise, clear or close. `times` are
   * the readings' event times in epoch ms, as the normalizer made them; without them each
   * measurement_time is parsed.
   */
  evaluate(readings: readonly ReeferReading[], times?: readonly number[]): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (let i = 0; i < readings.length; i++) {
      const reading = readings[i] as ReeferReading;
      const container = this.state.get(reading.container_id);
      if (container)
        this.judge(container, reading, times?.[i] ?? eventTime(reading.measurement_time), alerts);
    }
    return alerts;
  }

  /** Closes windows whose end is past on the wall clock (containers that went quiet). */
  advanceTo(now: number): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (const container of this.state.values()) {
      for (const tally of container.windows.advanceTo(now))
        alerts.push(windowAlert(container, tally));
    }
    return alerts;
  }

  /** Closes every open window (shutdown, end of a replay). */
  flush(): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    for (const container of this.state.values()) {
      for (const tally of container.windows.flush()) alerts.push(windowAlert(container, tally));
    }
    return alerts;
  }

  private judge(container: ContainerRules, r: ReeferReading, t: number, alerts: AlertRecord[]) {
    const closed = container.windows.add(t, r.temperature, r.seq, container.threshold);
    for (let k = 0; k < closed.length; k++)
      alerts.push(windowAlert(container, closed[k] as WindowTally));
    if (r.defrost_cycle === true) container.lastDefrostAt = t;
    if (r.time_door_open !== null && r.time_door_open > 0) container.lastDoorAt = t;

    const { rules, verdicts, enabled } = this;
    // Fast path: with every condition idle only an `on` verdict changes anything, and a reading
    // on which no rule can be `on` is the common case at sea (mayBeOn is checked against the
    // verdicts in state-rules.test.ts).
    if (container.quiet && !mayBeOn(r, container.threshold, this.fast)) return;
    for (let i = 0; i < STATE_RULES.length; i++) {
      verdicts[i] = enabled[i]
        ? (STATE_RULES[i] as (typeof STATE_RULES)[0]).verdict(r, t, container, rules)
        : null;
    }
    const fault = rules.sensorFault;
    for (let i = 0; i < STATE_RULES.length; i++) {
      const verdict = verdicts[i];
      const condition = container.conditions[i];
      // The common case, nothing happening, costs one check.
      if (verdict === null || verdict === undefined || !condition) continue;
      if (verdict !== "on" && condition.idle) continue;
      const rule = STATE_RULES[i] as (typeof STATE_RULES)[0];
      const transition = condition.step(verdict, t, r.seq, rule.policy(this.policies));
      if (transition)
        alerts.push(
          stateAlert(
            container,
            rule.type,
            transition,
            r,
            rule.value(r),
            rule.limit(container, rules),
          ),
        );
    }
    if (fault.enabled) {
      for (const field of fault.fields) {
        let condition = container.faults.get(field);
        if (!condition) {
          condition = new Condition();
          container.faults.set(field, condition);
        }
        const value = r[field];
        if (value !== null && condition.idle) continue;
        const transition = condition.step(
          value === null ? "on" : "off",
          t,
          r.seq,
          this.policies.sensorFault,
        );
        if (transition)
          alerts.push(stateAlert(container, "sensor_fault", transition, r, value, null, field));
      }
    }
    container.quiet = isQuiet(container);
  }
}

function isQuiet(container: ContainerRules): boolean {
  for (const condition of container.conditions) if (!condition.idle) return false;
  for (const condition of container.faults.values()) if (!condition.idle) return false;
  return true;
}

/**
 * A gateway's explicit per-product threshold, else setpoint + tolerance when configured, else
 * the product's own (the catalogue's, which the cloud reads too), else the default.
 */
export function thresholdFor(rules: RulesConfig, product: Product): number {
  const explicit = rules.temperature.products[product.id];
  if (explicit !== undefined) return explicit;
  if (rules.temperature.tolerance !== undefined)
    return product.targetTemperature + rules.temperature.tolerance;
  return product.threshold ?? rules.temperature.threshold;
}
