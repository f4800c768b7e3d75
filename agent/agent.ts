import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { AgentConfig } from "../config/schema.js";
import { systemClock, type Clock } from "../core/clock.js";
import type { AgentEventMap, AgentEvents } from "../core/events.js";
import { Metrics } from "../core/metrics.js";
import type { GuardedOutbox } from "./storage/guarded-outbox.js";
import { WearRate } from "./storage/wear-rate.js";
import type { AgentDependencies } from "./dependencies.js";
import { openGuardedOutbox, withinMs } from "./open-outbox.js";
import type { Product } from "../core/products.js";
import { loadTlsMaterial } from "./publisher/tls.js";
import { judgeHealth } from "./http/health.js";
import { formatExposition } from "./http/exposition.js";
import type { GatewayFeed } from "./dashboard/gateway-feed.js";
import type { HttpListener } from "./http/listener.js";
import { agentListener } from "./http/agent-listener.js";
import { DeviceWatch } from "./rules/device-watch.js";
import { RuleEngine } from "./rules/engine.js";
import { ReportByException } from "./rules/report-by-exception.js";
import { SharedResources } from "../core/shared-resources.js";
import { openAudit } from "./audit/open-audit.js";
import type { AuditSender } from "./audit/audit-sender.js";
import {
  containerInfos,
  containerProducts,
  deviceUnreachableAfter,
  remoteStateFile,
  reportByExceptionConfigs,
  samplingTimes,
} from "./settings-from-config.js";
import { HealthShadow } from "./shadow/health-shadow.js";
import { ConfigShadow } from "./shadow/config-shadow.js";
import { checkCrtClient } from "./publisher/crt-client.js";
import { agentVersion } from "./version.js";
import { buildPipeline } from "./pipeline.js";
import type { CaptureStage } from "./capture-stage.js";
import type { Publisher } from "./publisher/publisher.js";
import type { Sampler } from "./sampler.js";
import { openUpdates, type Updates } from "./update/updates.js";
import {
  EMPTY_OUTBOX_STATS,
  NO_STORAGE_FAILURE,
  type AgentStatus,
  type ContainerInfo,
  type DeviceWearRate,
  type GatewayGlance,
  type GatewayStatus,
  type Health,
  type StorageState,
} from "../core/gateway-status.js";

export type { AgentDependencies } from "./dependencies.js";

/**
 * One gateway's agent, and the composition root of its parts: drivers -> sampler -> capture stage
 * (sequence, rules, report by exception, one commit) -> outbox -> publisher. It holds no
 * module-level state, so a fleet simulator can run thousands in one process, each with its own
 * clock, logger and outbox file.
 */
export class Agent implements GatewayStatus {
  readonly events: AgentEvents = new EventEmitter<AgentEventMap>();
  readonly metrics = new Metrics();
  readonly bootId = randomUUID();
  private readonly shared = new SharedResources();
  private outbox: GuardedOutbox | null = null;
  private sampler: Sampler | null = null;
  private publisher: Publisher | null = null;
  private capture: CaptureStage | null = null;
  private http: HttpListener | null = null;
  private feed: GatewayFeed | null = null;
  private healthShadow: HealthShadow | null = null;
  private updates: Updates | null = null;
  private audit: AuditSender | null = null;
  private samplingStopped = false;
  private wearRate: WearRate | null = null;
  /** Wall and monotonic time of the start, for /metrics and /healthz. */
  private startedAt = { wall: 0, mono: 0 };
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly products: ReadonlyMap<string, Product>;
  private readonly rules: RuleEngine;
  private readonly reportByException: ReportByException;
  private readonly devices: DeviceWatch;
  /** The rules in force: the config's, or a reload's. */
  private rulesConfig: AgentConfig["rules"];

  /** The config running: the file's, with the config shadow's settings merged once applied. */
  private config: AgentConfig;
  private configShadow: ConfigShadow | null = null;

  constructor(
    /** The gateway's own config (its file, or a reload of it). */
    private fileConfig: AgentConfig,
    private readonly deps: AgentDependencies,
  ) {
    const config = fileConfig;
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.products = containerProducts(config);
    this.rulesConfig = config.rules;
    this.rules = new RuleEngine({
      gatewayId: config.gateway.id,
      rules: config.rules,
      containers: this.products,
    });
    this.reportByException = new ReportByException(reportByExceptionConfigs(config));
    this.devices = new DeviceWatch(
      config.gateway.id,
      new Map([...this.products].map(([id, product]) => [id, product.id])),
      deviceUnreachableAfter(config),
    );
  }

  /**
   * Applies the rules of a reloaded config (thresholds, windows, hysteresis, suppression, report
   * by exception, device watch) without losing a reading, an open window or a raised alert.
   */
  reloadRules(config: AgentConfig): void {
    this.fileConfig = config;
    // The remote settings still apply over the reloaded file, when they still fit it.
    this.applyConfig(this.configShadow?.rebase(config) ?? config);
  }

  /**
   * Runs a config's rules, report by exception, sampling intervals and log level from now on,
   * without a restart.
   */
  private applyConfig(config: AgentConfig): void {
    // Pino's children follow their parent's level: every component's logger changes with it.
    if (config.log.level !== this.config.log.level) this.deps.logger.level = config.log.level;
    this.config = config;
    this.rulesConfig = config.rules;
    this.rules.update(config.rules);
    this.reportByException.update(reportByExceptionConfigs(config));
    this.devices.update(deviceUnreachableAfter(config));
    this.sampler?.retime(samplingTimes(config));
  }

  /**
   * Opens the outbox (exclusively: OutboxLockedError if another agent holds it), checks the TLS
   * files and starts sampling and publishing. Throws, having started nothing, when the config's
   * files cannot be used.
   */
  start(): void {
    const { clock, metrics, events } = this;
    const logger = this.deps.logger;
    if (this.fileConfig.remoteConfig.enabled) {
      this.configShadow = new ConfigShadow({
        thing: this.fileConfig.gateway.id,
        file: this.fileConfig,
        stateFile: remoteStateFile(this.fileConfig),
        apply: (next) => this.applyConfig(next),
        clock,
        logger: logger.child({ component: "config-shadow" }),
        metrics,
      });
      const restored = this.configShadow.restore();
      if (restored) this.applyConfig(restored);
    }
    const config = this.config;
    checkCrtClient(config.mqtt.client);
    this.startedAt = { wall: clock.now(), mono: clock.monotonic() };
    const tls = loadTlsMaterial(config.mqtt, clock.now());
    for (const warning of tls.warnings) logger.warn(warning);
    this.updates = config.update.enabled
      ? openUpdates(config, {
          status: this,
          runningVersion: this.version,
          excursions: () =>
            config.containers
              .map((c) => c.id)
              .filter((id) => this.rules.isNoteworthy(id, clock.now())),
          clock,
          logger: logger.child({ component: "update" }),
          metrics,
          random: this.random,
        })
      : null;
    // The checkpoint key before the outbox: a key that cannot be used stops the start here.
    const audit = openAudit(config, logger.child({ component: "audit" }), metrics);
    const outbox = openGuardedOutbox(config, {
      products: this.products,
      clock,
      logger,
      metrics,
      recovered: () => this.publisher?.kick(),
      stored: (readings) => this.events.emit("stored", readings),
    });
    this.outbox = outbox;
    this.audit = audit?.sender(outbox) ?? null;
    this.wearRate = new WearRate(config.buffer.path, clock);
    const { publisher, capture, sampler } = buildPipeline({
      config,
      outbox,
      tls,
      rules: this.rules,
      reportByException: this.reportByException,
      devices: this.devices,
      products: this.products,
      shared: this.shared,
      bootId: this.bootId,
      sessions: [
        ...(this.configShadow ? [this.configShadow] : []),
        ...(this.updates ? [this.updates.session] : []),
        ...(this.audit ? [this.audit] : []),
      ],
      clock,
      logger,
      metrics,
      events,
      random: this.random,
    });
    this.publisher = publisher;
    this.capture = capture;
    this.sampler = sampler;
    const stats = outbox.stats();
    logger.info(
      {
        gateway: config.gateway.id,
        version: this.version,
        bootId: this.bootId,
        containers: config.containers.length,
        backlog: stats.telemetry,
        alerts: stats.alerts,
      },
      "agent starting",
    );
    publisher.start();
    sampler.start();
    this.audit?.start();
    if (config.health.enabled) {
      this.healthShadow = new HealthShadow(this, {
        ...config.health,
        clock,
        send: (topic, payload) => publisher.sendSideMessage(topic, payload),
      });
      this.healthShadow.start();
    }
  }

  /**
   * Starts the HTTP listener (/metrics, /healthz) when http.listen is set; resolves with its
   * address, or null when it is off. Rejects with HttpListenerError (a port in use, a bad token
   * file), the agent running on.
   */
  async listen(): Promise<{ address: string; port: number } | null> {
    if (this.config.http.listen === undefined) return null;
    const { http, feed } = agentListener(
      this,
      this.config,
      this.deps.logger.child({ component: "http" }),
    );
    this.feed = feed;
    const address = await http.start();
    this.http = http;
    return address;
  }

  /** /healthz: samples, and delivers or buffers within its budget (see judgeHealth). */
  health(): Health {
    const intervals = this.config.containers.map(
      (c) => c.intervalMs ?? this.config.sampling.intervalMs,
    );
    return judgeHealth({
      running: this.sampler !== null,
      now: this.clock.monotonic(),
      startedAt: this.startedAt.mono,
      lastTickAt: this.sampler?.lastTickAt ?? null,
      maxIntervalMs: Math.max(...intervals),
      lastCaptureFailure: this.capture?.lastFailure ?? null,
      lastEvictionAt: this.capture?.lastEvictionAt ?? null,
      connected: this.publisher?.isConnected ?? false,
      backlog: this.outbox?.pending().telemetry ?? 0,
      unreachableDevices: this.devices.raised(),
      storage: this.storage,
    });
  }

  /** /metrics in the Prometheus text format. */
  metricsText(): string {
    return formatExposition({
      metrics: this.metrics,
      outbox: this.outbox?.stats() ?? null,
      oldestCapturedAt: this.outbox?.oldestCapturedAt() ?? null,
      connected: this.publisher?.isConnected ?? false,
      inflightRows: this.publisher?.inflightRows ?? 0,
      unreachableDevices: this.devices.raised().length,
      storage: this.storage,
      wear: this.wear(),
      version: this.version,
      now: this.clock.now(),
      startedAt: this.startedAt.wall,
    });
  }

  /**
   * Stops sampling (the tick under way commits) and reports the windows still open as they stand;
   * publishing goes on, so the backlog drains (a fleet's end of run). Safe to call twice.
   */
  async stopSampling(): Promise<void> {
    if (this.samplingStopped || !this.sampler) return;
    this.samplingStopped = true;
    await this.sampler.stop();
    // The rules' state does not outlive the process.
    this.capture?.flush();
  }

  /** Stops sampling (the tick under way commits), drains in-flight publishes, closes the outbox. */
  async stop(drainMs = 5000): Promise<void> {
    await this.http?.stop();
    this.http = null;
    this.feed?.close();
    this.feed = null;
    this.healthShadow?.stop();
    this.healthShadow = null;
    this.configShadow?.stop();
    this.configShadow = null;
    await this.updates?.stop();
    this.updates = null;
    await this.stopSampling();
    // The last tick reaches the publisher once its WAL sync is done: wait for it (bounded, in
    // case the disk hangs), so it is sent in this drain rather than at the next start.
    if (this.outbox) await withinMs(this.outbox.synced(), drainMs);
    // The last checkpoint covers the last tick; it goes out before the link closes, if it can.
    await this.audit?.stop(drainMs);
    this.audit = null;
    await this.publisher?.stop(drainMs);
    const stats = this.outbox?.stats();
    this.outbox?.close();
    this.sampler = null;
    this.samplingStopped = false;
    this.publisher = null;
    this.capture = null;
    this.outbox = null;
    this.deps.logger.info({ backlog: stats?.telemetry, alerts: stats?.alerts }, "agent stopped");
  }

  /** The version running: the package's, or the one a fleet or a test plays. */
  get version(): string {
    return this.deps.version ?? agentVersion();
  }

  get gatewayId(): string {
    return this.config.gateway.id;
  }

  get brokerAddress(): string {
    const url = new URL(this.config.mqtt.url);
    return `${url.protocol}//${url.host}`;
  }

  containers(): ContainerInfo[] {
    return containerInfos(this.config, this.products, this.rulesConfig);
  }

  glance(): GatewayGlance {
    const pending = this.outbox?.pending();
    return {
      connected: this.publisher?.isConnected ?? false,
      backlog: pending ? pending.telemetry + pending.alerts : 0,
      oldestCapturedAt: this.outbox?.oldestCapturedAt() ?? null,
      uptimeMs: this.sampler === null ? 0 : this.clock.monotonic() - this.startedAt.mono,
      unreachableDevices: this.devices.raised(),
      storage: this.storage,
    };
  }

  status(): AgentStatus {
    return {
      connected: this.publisher?.isConnected ?? false,
      outbox: this.outbox?.stats() ?? EMPTY_OUTBOX_STATS,
      inflight: this.publisher?.inflightRows ?? 0,
      metrics: this.metrics.snapshot(),
    };
  }

  wear(): DeviceWearRate | null {
    return this.wearRate?.read() ?? null;
  }

  private get storage(): StorageState {
    return this.outbox?.storage ?? NO_STORAGE_FAILURE;
  }
}
