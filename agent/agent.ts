import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { readTimeoutMs, type AgentConfig } from "../config/schema.js";
import { createDriver } from "../drivers/registry.js";
import { systemClock, type Clock } from "./clock.js";
import type { AgentEventMap, AgentEvents } from "./events.js";
import { Metrics } from "./metrics.js";
import { Outbox, type OutboxStats } from "./outbox/outbox.js";
import { productCatalogue } from "./products.js";
import { Publisher } from "./publisher/publisher.js";
import { loadTlsMaterial } from "./publisher/tls.js";
import type { UnsequencedReading } from "./record.js";
import { Sampler, type SampledContainer } from "./sampler.js";

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
  private outbox: Outbox | null = null;
  private sampler: Sampler | null = null;
  private publisher: Publisher | null = null;
  private readonly clock: Clock;

  constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDependencies,
  ) {
    this.clock = deps.clock ?? systemClock;
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
    this.publisher = new Publisher({
      gatewayId: config.gateway.id,
      mqtt: config.mqtt,
      envelopeBytes: config.publish.envelopeBytes,
      tls,
      outbox,
      clock,
      logger: logger.child({ component: "publisher" }),
      metrics: this.metrics,
      events: this.events,
      random: this.deps.random ?? Math.random,
    });
    this.sampler = new Sampler({
      gatewayId: config.gateway.id,
      bootId: this.bootId,
      containers: this.sampledContainers(logger),
      clock,
      logger: logger.child({ component: "sampler" }),
      metrics: this.metrics,
      onTick: (readings) => {
        this.capture(readings);
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

  private capture(readings: UnsequencedReading[]): void {
    const outbox = this.outbox;
    if (!outbox) return;
    const result = outbox.capture(readings);
    if (result.evictedTelemetry > 0 || result.evictedAlerts > 0) {
      this.metrics.increment("evicted", result.evictedTelemetry, { lane: "telemetry" });
      this.metrics.increment("evicted", result.evictedAlerts, { lane: "alert" });
      this.deps.logger.warn(
        { evictedTelemetry: result.evictedTelemetry, evictedAlerts: result.evictedAlerts },
        "outbox over its disk budget: oldest readings evicted",
      );
    }
    this.events.emit("captured", result.readings);
    this.publisher?.kick();
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
        }),
      };
    });
  }
}
