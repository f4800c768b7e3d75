import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { readTimeoutMs, type AgentConfig } from "../config/schema.js";
import { createDriver } from "../drivers/registry.js";
import { existsSync } from "node:fs";
import { systemClock, type Clock } from "./clock.js";
import { ClockGuard, type ClockObservation } from "./clock-guard.js";
import type { AgentEventMap, AgentEvents } from "./events.js";
import { Metrics } from "./metrics.js";
import { DiskFullError, Outbox, type CaptureResult, type OutboxStats } from "./outbox/outbox.js";
import { productCatalogue } from "./products.js";
import { Publisher } from "./publisher/publisher.js";
import { loadTlsMaterial } from "./publisher/tls.js";
import type { UnsequencedReading } from "./record.js";
import type { AlertRecord } from "./rules/alerts.js";
import { RuleEngine } from "./rules/engine.js";
import { ReportByException } from "./rules/report-by-exception.js";
import { Sampler, type SampledContainer } from "./sampler.js";
import { SharedResources } from "./shared-resources.js";

/** What the agent takes from outside; everything else it builds from its config. */
export interface AgentDependencies {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Uniform in [0, 1): the backoff's jitter. */
  readonly random?: () => number;
}

export interface AgentStatus {
  readonly connected: boolean;
  readonly outbox: OutboxStats;
  readonly inflight: number;
  readonly metrics: Record<string, number>;
}

/**
 * One gateway's agent: drivers -> sampler -> normalizer -> outbox -> publisher. It holds no
 * module-level state, so a fleet simulator can run thousands in one process, each with its own
 * clock, logger and outbox file.
 */
export class Agent {
  readonly events: AgentEvents = new EventEmitter<AgentEventMap>();
  readonly metrics = new Metrics();
  readonly bootId = randomUUID();
  private readonly shared = new SharedResources();
  private outbox: Outbox | null = null;
  private sampler: Sampler | null = null;
  private publisher: Publisher | null = null;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly rules: RuleEngine;
  private readonly reportByException: ReportByException;
  /** Clock epochs already corrected, with their step, for ticks that commit late. */
  private readonly correctedEpochs = new Map<number, number>();
  /** Readings report by exception held back, until their window closes. */
  private held: { containerId: string; seq: number; t: number }[] = [];

  constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDependencies,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    const products = productCatalogue(config.products);
    this.rules = new RuleEngine({
      gatewayId: config.gateway.id,
      rules: config.rules,
      containers: new Map(
        config.containers.map((c) => [
          c.id,
          products.get(c.product) ?? {
            id: c.product,
            name: c.product,
            targetTemperature: 0,
            targetHumidity: 0,
          },
        ]),
      ),
    });
    this.reportByException = new ReportByException(reportByExceptionConfigs(config));
  }

  /**
   * Applies the rules of a reloaded config (thresholds, windows, hysteresis, suppression, report
   * by exception) without losing a reading, an open window or a raised alert.
   */
  reloadRules(config: AgentConfig): void {
    this.rules.update(config.rules);
    this.reportByException.update(reportByExceptionConfigs(config));
  }

  /**
   * Opens the outbox, checks the TLS files and starts sampling and publishing. Throws, having
   * started nothing, when the config's files cannot be used.
   */
  start(): void {
    const { config, clock } = this;
    const logger = this.deps.logger;
    const tls = loadTlsMaterial(config.mqtt, clock.now());
    for (const warning of tls.warnings) logger.warn(warning);
    const outbox = new Outbox({ ...config.buffer, now: () => clock.now() });
    this.outbox = outbox;
    if (outbox.recovery) {
      this.metrics.increment("outbox_recoveries");
      logger.error(
        { movedTo: outbox.recovery.movedTo, reason: outbox.recovery.reason },
        "outbox database was corrupt: moved aside for forensics and started afresh; its unsent readings are in the moved file",
      );
    }
    const guard = new ClockGuard(
      clock,
      config.clock.trust === "timesyncd" ? () => existsSync(config.clock.timesyncdFlag) : undefined,
    );
    this.publisher = new Publisher({
      // A new connection publishes only after the clock was looked at and buffered readings fixed.
      beforeSession: () => {
        this.observeClock(guard);
      },
      gatewayId: config.gateway.id,
      mqtt: config.mqtt,
      envelopeBytes: config.publish.envelopeBytes,
      limits: {
        messagesPerSecond: config.publish.maxMessagesPerSecond,
        bytesPerSecond: config.publish.maxBytesPerSecond,
      },
      tls,
      outbox,
      clock,
      logger: logger.child({ component: "publisher" }),
      metrics: this.metrics,
      events: this.events,
      random: this.random,
    });
    this.sampler = new Sampler({
      observeClock: () => this.observeClock(guard),
      gatewayId: config.gateway.id,
      bootId: this.bootId,
      containers: this.sampledContainers(logger),
      clock,
      logger: logger.child({ component: "sampler" }),
      metrics: this.metrics,
      onTick: (readings, observation) => {
        this.capture(readings, observation);
      },
    });
    const stats = outbox.stats();
    logger.info(
      {
        gateway: config.gateway.id,
        bootId: this.bootId,
        containers: config.containers.length,
        backlog: stats.telemetry,
        alerts: stats.alerts,
      },
      "agent starting",
    );
    this.publisher.start();
    this.sampler.start();
  }

  /** Stops sampling (the tick under way commits), drains in-flight publishes, closes the outbox. */
  async stop(drainMs = 5000): Promise<void> {
    await this.sampler?.stop();
    // Windows still open are reported as they stand: the rules' state does not outlive the process.
    const last = this.rules.flush();
    if (last.length > 0 && this.outbox) this.captureAlerts(this.outbox, last);
    await this.publisher?.stop(drainMs);
    const stats = this.outbox?.stats();
    this.outbox?.close();
    this.sampler = null;
    this.publisher = null;
    this.outbox = null;
    this.deps.logger.info({ backlog: stats?.telemetry, alerts: stats?.alerts }, "agent stopped");
  }

  status(): AgentStatus {
    const empty = {
      alerts: 0,
      telemetry: 0,
      held: 0,
      droppedByException: 0,
      diskFullEvents: 0,
      bytes: 0,
      evictedTelemetry: 0,
      evictedAlerts: 0,
      deadLettered: 0,
    };
    return {
      connected: this.publisher?.isConnected ?? false,
      outbox: this.outbox?.stats() ?? empty,
      inflight: this.publisher?.inflightRows ?? 0,
      metrics: this.metrics.snapshot(),
    };
  }

  /**
   * One tick: report by exception picks what to hold; the readings commit; the rules judge them
   * (and close windows due on the wall clock); their alerts commit; held readings whose window
   * closed are published if it mattered, else dropped and counted.
   */
  private capture(readings: UnsequencedReading[], observation: ClockObservation): void {
    const outbox = this.outbox;
    if (!outbox) return;
    // Ticks may overlap under load: one observed before the clock became trusted can commit after
    // its epoch was corrected. Its readings are corrected here instead of waiting in the outbox.
    let epoch = observation.epoch;
    const late = epoch === null ? undefined : this.correctedEpochs.get(epoch);
    if (late !== undefined) {
      for (const r of readings) {
        r.measurement_time = new Date(Date.parse(r.measurement_time) + late).toISOString();
        r.clock = "synced";
      }
      epoch = null;
    }
    if (readings.length === 0) return;
    const now = this.clock.now();
    const held = readings.map((r) => {
      if (!this.reportByException.applies(r.container_id)) return false;
      const t = Date.parse(r.measurement_time);
      const threshold = this.rules.thresholdOf(r.container_id) ?? Number.POSITIVE_INFINITY;
      const noteworthy =
        (r.temperature !== null && r.temperature > threshold) ||
        this.rules.isNoteworthy(r.container_id, t);
      return !this.reportByException.decide(r, t, noteworthy);
    });
    let result: CaptureResult;
    try {
      result = outbox.capture(readings, [], held, epoch);
    } catch (error) {
      if (!(error instanceof DiskFullError)) throw error;
      // Nothing was captured of this tick; it is counted, and the next tick tries again.
      this.metrics.increment("readings_dropped", error.readings, { reason: "disk_full" });
      this.deps.logger.error(
        { readings: error.readings },
        "disk full even after evicting: this tick's readings are lost",
      );
      return;
    }
    if (result.diskFull) {
      this.metrics.increment("disk_full_events");
      this.deps.logger.error(
        { evicted: result.evictedTelemetry },
        "disk full: evicted the oldest telemetry to keep capturing",
      );
    }
    this.noteEvictions(result);
    result.readings.forEach((r, i) => {
      if (held[i])
        this.held.push({
          containerId: r.container_id,
          seq: r.seq,
          t: Date.parse(r.measurement_time),
        });
    });
    const alerts = [...this.rules.evaluate(result.readings), ...this.rules.advanceTo(now)];
    if (alerts.length > 0) this.captureAlerts(outbox, alerts);
    if (this.held.length > 0) this.resolveHeld(outbox, alerts, now);
    this.events.emit("captured", result.readings);
    this.publisher?.kick();
  }

  /**
   * Judges the wall clock and, the moment it becomes trusted, corrects the readings of the earlier
   * epochs still in the outbox. Called by every tick and by the publisher before a new session
   * publishes anything, so no uncorrected reading leaves once the clock is right.
   */
  private observeClock(guard: ClockGuard): ClockObservation {
    const observation = guard.observe();
    if (guard.steppedWhileTrusted) {
      this.deps.logger.warn(
        "the wall clock stepped while trusted: readings just before the step carry the old time",
      );
    }
    const outbox = this.outbox;
    for (const step of observation.corrections) {
      this.correctedEpochs.set(step.epoch, step.deltaMs);
      const corrected = outbox ? outbox.correctClock(step.epoch, step.deltaMs) : 0;
      this.metrics.increment("clock_corrected", corrected);
      this.deps.logger.warn(
        { epoch: step.epoch, deltaMs: step.deltaMs, corrected },
        "the wall clock is now trusted: corrected the times of readings captured before that are still in the outbox",
      );
    }
    return observation;
  }

  private noteEvictions(result: { evictedTelemetry: number; evictedAlerts: number }): void {
    if (result.evictedTelemetry === 0 && result.evictedAlerts === 0) return;
    this.metrics.increment("evicted", result.evictedTelemetry, { lane: "telemetry" });
    this.metrics.increment("evicted", result.evictedAlerts, { lane: "alert" });
    this.deps.logger.warn(
      { evictedTelemetry: result.evictedTelemetry, evictedAlerts: result.evictedAlerts },
      "outbox over its disk budget: oldest readings evicted",
    );
  }

  private captureAlerts(outbox: Outbox, alerts: readonly AlertRecord[]): void {
    this.noteEvictions(
      outbox.capture(
        [],
        alerts.map((alert) => ({ containerId: alert.container_id, payload: alert })),
      ),
    );
    for (const alert of alerts) {
      this.metrics.increment("alerts", 1, { type: alert.alert_type, state: alert.state });
      const level =
        alert.state === "cleared" ? "info" : alert.severity === "critical" ? "error" : "warn";
      this.deps.logger[level](
        { alert },
        `${alert.alert_type} ${alert.state} on ${alert.container_id}`,
      );
    }
    this.events.emit("alert", alerts);
  }

  private resolveHeld(outbox: Outbox, alerts: readonly AlertRecord[], now: number): void {
    const overWindows = new Set(
      alerts.flatMap((a) =>
        a.alert_type === "temperature_window"
          ? [`${a.container_id}:${Date.parse(a.window_start)}`]
          : [],
      ),
    );
    const promote = new Map<string, number[]>();
    const drop = new Map<string, number[]>();
    const waiting: typeof this.held = [];
    for (const h of this.held) {
      if (!this.rules.isWindowClosed(h.containerId, h.t, now)) {
        waiting.push(h);
        continue;
      }
      const target = overWindows.has(`${h.containerId}:${this.rules.windowStart(h.t)}`)
        ? promote
        : drop;
      target.set(h.containerId, [...(target.get(h.containerId) ?? []), h.seq]);
    }
    this.held = waiting;
    for (const [containerId, seqs] of promote) outbox.promoteHeld(containerId, seqs);
    for (const [containerId, seqs] of drop) {
      outbox.dropHeld(containerId, seqs);
      this.metrics.increment("dropped_by_exception", seqs.length, { container: containerId });
    }
  }

  private sampledContainers(logger: Logger): SampledContainer[] {
    const products = productCatalogue(this.config.products);
    return this.config.containers.map((container) => {
      const product = products.get(container.product);
      if (!product) throw new Error(`containers: unknown product ${container.product}`); // validated before
      const intervalMs = container.intervalMs ?? this.config.sampling.intervalMs;
      return {
        id: container.id,
        productId: product.id,
        intervalMs,
        timeoutMs: readTimeoutMs(this.config, intervalMs),
        driver: createDriver(container.driver, {
          containerId: container.id,
          product,
          clock: this.clock,
          logger: logger.child({ component: "driver", container: container.id }),
          metrics: this.metrics,
          shared: this.shared,
          random: this.random,
        }),
      };
    });
  }
}

function reportByExceptionConfigs(config: AgentConfig) {
  return new Map(
    config.containers.flatMap((c) =>
      c.reportByException ? [[c.id, c.reportByException] as const] : [],
    ),
  );
}
