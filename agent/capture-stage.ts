import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";
import type { ClockCorrection } from "./clock-correction.js";
import type { AgentEvents } from "../core/events.js";
import type { Metrics } from "../core/metrics.js";
import { DiskFullError } from "./outbox/outbox.js";
import type { CaptureStore, GuardedCaptureResult } from "./storage/capture-store.js";
import type { ReeferReading } from "../core/record.js";
import type { AlertRecord } from "../core/alerts.js";
import type { DeviceWatch } from "./rules/device-watch.js";
import type { RuleEngine } from "./rules/engine.js";
import type { HeldReading, ReportByException } from "./rules/report-by-exception.js";
import type { Tick } from "./tick.js";

/**
 * The faces of its parts the capture stage uses, and no more: the store is a port of its own
 * (CaptureStore); the rules, report by exception, device watch and clock correction are pure
 * logic, taken by these slices of their classes so the stage can call nothing else of them.
 */
export type CaptureRules = Pick<
  RuleEngine,
  | "evaluate"
  | "advanceTo"
  | "flush"
  | "thresholdOf"
  | "isNoteworthy"
  | "isWindowClosed"
  | "windowStart"
>;
export type CaptureReportByException = Pick<
  ReportByException,
  "applies" | "decide" | "plan" | "settle"
>;
export type CaptureDeviceWatch = Pick<DeviceWatch, "observe" | "isRaised">;
export type TickSettler = Pick<ClockCorrection, "settle">;

export interface CaptureStageOptions {
  readonly outbox: CaptureStore;
  readonly rules: CaptureRules;
  readonly reportByException: CaptureReportByException;
  readonly devices: CaptureDeviceWatch;
  readonly clockCorrection: TickSettler;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: AgentEvents;
  /** Rows were committed and are durable: the publisher may send them. */
  readonly committed: () => void;
}

/** Alerts carried over from failed commits at most; beyond, the oldest are dropped (counted). */
const MAX_CARRIED_ALERTS = 1000;

/**
 * Capture, one way and in one transaction per tick: the clock correction settles the tick's
 * times, the outbox gives the readings their seqs, the rules and the device watch judge them,
 * report by exception decides what to hold and the fate of held readings whose window closed,
 * and one commit stores readings, alerts and that fate together.
 *
 * The rules' state moves on before the commit: if the commit fails for good (a full disk even
 * after evicting), the tick's readings are counted as dropped and its alerts are carried into the
 * next commit, so an alert is never lost to a full disk.
 */
export class CaptureStage {
  private carried: AlertRecord[] = [];
  /** The last commit that failed, and the last eviction (monotonic ms), for /healthz. */
  lastFailure: { at: number; reason: string } | null = null;
  lastEvictionAt: number | null = null;

  constructor(private readonly options: CaptureStageOptions) {}

  capture(tick: Tick): void {
    try {
      this.captureTick(tick);
    } catch (error) {
      // The sampler counts and logs it; /healthz reports it while it lasts.
      this.lastFailure = { at: this.options.clock.monotonic(), reason: String(error) };
      throw error;
    }
  }

  private captureTick(tick: Tick): void {
    const { outbox, rules, devices, clockCorrection, clock } = this.options;
    const { samples, epoch } = clockCorrection.settle(tick);
    const readings = outbox.nextSeqs(samples.map((s) => s.reading));
    const times = samples.map((s) => s.t);
    const now = clock.now();
    const judged = [
      ...rules.evaluate(readings, times),
      ...rules.advanceTo(now),
      ...devices.observe(readings, tick.failures, { wall: now, mono: clock.monotonic() }, (c) =>
        outbox.lastSeq(c),
      ),
    ];
    const storage = outbox.storageAlerts();
    const alerts = [...this.carried, ...storage, ...judged];
    const { held, newlyHeld } = this.holdBack(readings, times, judged);
    const plan = this.options.reportByException.plan(newlyHeld, windowsOver(judged), now, rules);
    if (readings.length === 0 && alerts.length === 0 && !changesHeld(plan)) return;

    let result: GuardedCaptureResult;
    try {
      result = outbox.commit({
        readings,
        held,
        alerts: alerts.map((alert) => ({ containerId: alert.container_id, payload: alert })),
        ...(plan && { promote: plan.promote, drop: plan.drop }),
        clockEpoch: epoch,
      });
    } catch (error) {
      if (!(error instanceof DiskFullError)) throw error;
      this.failed(readings.length, alerts);
      return;
    }
    this.carried = [];
    if (plan) this.options.reportByException.settle(plan);
    this.report(result, alerts, plan?.drop);
    // Captured means durable: with a background sync, once the WAL holding this tick is synced.
    // While the disk fails, the tick is held in memory: told as captured, but not durable.
    const durable = result.stored;
    // The readings as stored (stamped with their audit log index): what is published, byte for
    // byte, is what is reported captured.
    const captured = result.readings;
    outbox.afterDurable(() => {
      if (captured.length > 0) this.options.events.emit("captured", captured, durable);
      this.options.committed();
    });
  }

  /** At a graceful stop: windows still open are reported as they stand. */
  flush(): void {
    const last = this.options.rules.flush();
    if (last.length === 0 && this.carried.length === 0) return;
    const alerts = [...this.carried, ...last];
    try {
      this.options.outbox.commit({
        alerts: alerts.map((alert) => ({ containerId: alert.container_id, payload: alert })),
      });
      this.carried = [];
      this.report(null, alerts, undefined);
      // Tell the publisher, as a tick's commit does: the stop that flushed drains what is in
      // flight, and without this kick these alerts were in flight only if an acknowledgement
      // happened to wake the publisher first. Left in the outbox they go out at the next start,
      // but the stop's last checkpoint already covers them: until then the lake lacks a leaf.
      this.options.outbox.afterDurable(() => this.options.committed());
    } catch (error) {
      if (!(error instanceof DiskFullError)) throw error;
      this.failed(0, alerts);
    }
  }

  /** Per reading, whether report by exception holds it back, and those held as HeldReadings. */
  private holdBack(
    readings: readonly ReeferReading[],
    times: readonly number[],
    alerts: readonly AlertRecord[],
  ): { held: boolean[] | undefined; newlyHeld: HeldReading[] } {
    const rbe = this.options.reportByException;
    const newlyHeld: HeldReading[] = [];
    if (!readings.some((r) => rbe.applies(r.container_id))) return { held: undefined, newlyHeld };
    const { rules } = this.options;
    const alerting = new Set(alerts.map((a) => a.container_id));
    const held = readings.map((r, i) => {
      if (!rbe.applies(r.container_id)) return false;
      const t = times[i] ?? Date.parse(r.measurement_time);
      const threshold = rules.thresholdOf(r.container_id) ?? Number.POSITIVE_INFINITY;
      // A reading is news when it is over the threshold, when it raised or cleared an alert, or
      // while an alert is raised or its window has readings over the threshold.
      const noteworthy =
        (r.temperature !== null && r.temperature > threshold) ||
        alerting.has(r.container_id) ||
        rules.isNoteworthy(r.container_id, t) ||
        this.options.devices.isRaised(r.container_id);
      const hold = !rbe.decide(r, t, noteworthy);
      if (hold) newlyHeld.push({ containerId: r.container_id, seq: r.seq, t });
      return hold;
    });
    return { held, newlyHeld };
  }

  private failed(readings: number, alerts: readonly AlertRecord[]): void {
    const { metrics, logger } = this.options;
    this.lastFailure = {
      at: this.options.clock.monotonic(),
      reason: "the disk is full even after evicting",
    };
    // Nothing of this tick was captured; it is counted, and the next tick tries again.
    metrics.increment("readings_dropped", readings, { reason: "disk_full" });
    this.carried = alerts.slice(-MAX_CARRIED_ALERTS);
    metrics.increment("alerts_dropped", alerts.length - this.carried.length, {
      reason: "disk_full",
    });
    logger.error(
      { readings, alertsCarried: this.carried.length },
      "disk full even after evicting: this tick's readings are lost; its alerts wait for the next commit",
    );
  }

  private report(
    result: GuardedCaptureResult | null,
    alerts: readonly AlertRecord[],
    dropped: ReadonlyMap<string, readonly number[]> | undefined,
  ): void {
    const { metrics, logger, events } = this.options;
    if (result?.diskFull) {
      metrics.increment("disk_full_events");
      logger.error(
        { evicted: result.evictedTelemetry },
        "disk full: evicted the oldest telemetry to keep capturing",
      );
    }
    if (result && (result.evictedTelemetry > 0 || result.evictedAlerts > 0)) {
      this.lastEvictionAt = this.options.clock.monotonic();
      metrics.increment("evicted", result.evictedTelemetry, { lane: "telemetry" });
      metrics.increment("evicted", result.evictedAlerts, { lane: "alert" });
      logger.warn(
        { evictedTelemetry: result.evictedTelemetry, evictedAlerts: result.evictedAlerts },
        "outbox over its disk budget: oldest readings evicted",
      );
    }
    for (const [containerId, seqs] of dropped ?? []) {
      metrics.increment("dropped_by_exception", seqs.length, { container: containerId });
    }
    if (alerts.length === 0) return;
    for (const alert of alerts) {
      metrics.increment("alerts", 1, { type: alert.alert_type, state: alert.state });
      const level =
        alert.state === "cleared" ? "info" : alert.severity === "critical" ? "error" : "warn";
      logger[level]({ alert }, `${alert.alert_type} ${alert.state} on ${alert.container_id}`);
    }
    events.emit("alert", alerts);
  }
}

/** `container:windowStartMs` of each windowed alert: the windows that had readings over. */
function windowsOver(alerts: readonly AlertRecord[]): Set<string> {
  const over = new Set<string>();
  for (const a of alerts) {
    if (a.alert_type === "temperature_window")
      over.add(`${a.container_id}:${Date.parse(a.window_start)}`);
  }
  return over;
}

function changesHeld(plan: { promote: Map<string, unknown>; drop: Map<string, unknown> } | null) {
  return plan !== null && (plan.promote.size > 0 || plan.drop.size > 0);
}
