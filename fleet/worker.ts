import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { Agent } from "../agent/agent.js";
import type { AgentConfig } from "../config/schema.js";
import { REDACTED_PATHS } from "../agent/logger.js";
import { ensureIdentity, loadIssuer } from "./certificates.js";
import {
  gatewayConfig,
  gatewayDir,
  gatewayId,
  identityFiles,
  linkGroupOf,
  ownIssuerFiles,
  releaseOf,
} from "./fleet-file.js";
import { LinkProxy } from "./link-proxy.js";
import type {
  CapturedRange,
  FromWorker,
  GatewayResult,
  LinkGroup,
  ToWorker,
  WorkerStats,
} from "./protocol.js";
import { Ramp } from "./ramp.js";
import { GatewayFeed } from "../agent/dashboard/gateway-feed.js";
import { TileTracker } from "./tile-tracker.js";
import { FleetInstaller, type InstallTarget } from "./fleet-installer.js";
import { updateStateDir } from "../agent/update/updates.js";

/** One gateway of this worker: its agent and what it did in this run. */
interface Gateway {
  readonly id: string;
  readonly config: AgentConfig;
  readonly slot: number;
  /** The agent running, or the last one (a release that crashes leaves none running). */
  agent: Agent;
  running: boolean;
  readonly containers: Map<string, { first: number; last: number; count: number }>;
  captured: number;
  acknowledged: number;
  alerts: number;
  connected: boolean;
  drainMs: number | null;
}

/**
 * A worker process of `reefer-edge fleet`: runs a slice of the fleet's gateways as real `Agent`
 * instances (each its own outbox file, certificate and MQTT connection), with one logger and one
 * link proxy per chaos group for all of them, and reports to the coordinator over IPC.
 */
class FleetWorker {
  private readonly gateways: Gateway[] = [];
  private readonly proxies = new Map<LinkGroup, LinkProxy>();
  private connectAttempts = new Map<number, number>();
  private drainStartedAt: number | null = null;
  /** Gateways started, and those of them that have been connected at least once. */
  private started = 0;
  private everConnected = 0;
  private statsTimer: NodeJS.Timeout | null = null;
  private ramp: Ramp | null = null;
  private logger: Logger = pino({ level: "silent" });
  /** The dashboard's tiles of this worker's gateways; null when no dashboard runs. */
  private tiles: TileTracker | null = null;
  /** Gateways a page has opened: their feeds live on, so the chart keeps its history. */
  private readonly feeds = new Map<string, GatewayFeed>();
  private readonly watches = new Map<number, () => void>();
  /** The in-memory installers, when the fleet's chaos has a release. */
  private installer: FleetInstaller | null = null;

  constructor(private readonly send: (message: FromWorker) => void) {}

  async init(message: Extract<ToWorker, { type: "init" }>): Promise<void> {
    const { fleet, range } = message;
    mkdirSync(join(fleet.dataDir, "logs"), { recursive: true });
    const level = fleet.agent.log?.level ?? "warn";
    this.logger = pino(
      {
        level,
        redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
        base: { pid: process.pid },
      },
      pino.destination({
        dest: join(fleet.dataDir, "logs", `worker-${range[0]}.log`),
        sync: false,
      }),
    );
    const issuerFiles = fleet.issuer ?? ownIssuerFiles(fleet);
    const issuer = await loadIssuer(issuerFiles.cert, issuerFiles.key);
    const indices = Array.from({ length: range[1] - range[0] }, (_, i) => range[0] + i);
    for (const index of indices) {
      const id = gatewayId(fleet, index);
      await ensureIdentity(issuer, id, identityFiles(fleet, id));
      mkdirSync(gatewayDir(fleet, id), { recursive: true });
    }
    const target = new URL(message.brokerUrl);
    const endpoint = async (group: LinkGroup | null) => {
      if (group === null) return { url: message.brokerUrl, ca: message.ca };
      let proxy = this.proxies.get(group);
      if (!proxy) {
        proxy = await LinkProxy.start(Number(target.port || 8883), target.hostname);
        this.proxies.set(group, proxy);
      }
      return { url: `${target.protocol}//127.0.0.1:${proxy.port}`, ca: message.ca };
    };
    if (message.firstTile !== null) {
      this.tiles = new TileTracker(message.firstTile, indices.length, fleet.containersPerGateway);
    }
    const configs: AgentConfig[] = [];
    for (const index of indices) {
      configs.push(gatewayConfig(fleet, index, await endpoint(linkGroupOf(fleet, index))));
    }
    this.send({ type: "ready", gateways: configs.length });
    this.statsTimer = setInterval(() => this.sendStats(), 1000);
    if (releaseOf(fleet)) {
      this.installer = new FleetInstaller();
      this.installer.run(
        () => this.installTargets(),
        (error) => this.send({ type: "failed", message: `installer: ${error.message}` }),
      );
    }
    this.ramp = new Ramp({
      count: configs.length,
      perSecond: message.connectsPerSecond,
      maxPending: fleet.ramp.maxConnecting,
      pending: () => this.started - this.everConnected,
      startOne: (i) => {
        const config = configs[i];
        if (config) this.startGateway(config, i);
      },
    });
    this.ramp.start();
  }

  private startGateway(config: AgentConfig, slot: number): void {
    const id = config.gateway.id;
    const gateway: Gateway = {
      id,
      config,
      slot,
      agent: new Agent(config, { logger: this.logger.child({ gateway: id }) }),
      running: false,
      containers: new Map(),
      captured: 0,
      acknowledged: 0,
      alerts: 0,
      connected: false,
      drainMs: null,
    };
    this.started++;
    if (this.launch(gateway, gateway.agent)) this.gateways.push(gateway);
  }

  /** Starts `agent` as the gateway's (again after an install), its events counted. */
  private launch(gateway: Gateway, agent: Agent): boolean {
    gateway.agent = agent;
    agent.events.on("captured", (readings) => {
      for (const reading of readings) {
        gateway.captured++;
        const range = gateway.containers.get(reading.container_id);
        if (range) {
          range.last = Math.max(range.last, reading.seq);
          range.first = Math.min(range.first, reading.seq);
          range.count++;
        } else {
          gateway.containers.set(reading.container_id, {
            first: reading.seq,
            last: reading.seq,
            count: 1,
          });
        }
      }
    });
    agent.events.on("published", (rows, kind) => {
      if (kind !== "alert") gateway.acknowledged += rows;
    });
    agent.events.on("alert", (alerts) => {
      gateway.alerts += alerts.length;
    });
    let connectedOnce = gateway.running;
    agent.events.on("connection", (state) => {
      gateway.connected = state === "connected";
      if (gateway.connected && !connectedOnce) {
        connectedOnce = true;
        this.everConnected++;
      }
      if (state === "connecting") {
        const second = Math.floor(Date.now() / 1000);
        this.connectAttempts.set(second, (this.connectAttempts.get(second) ?? 0) + 1);
      }
    });
    try {
      agent.start();
    } catch (error) {
      this.send({ type: "failed", message: `${gateway.id}: ${(error as Error).message}` });
      return false;
    }
    gateway.running = true;
    this.tiles?.track(gateway.slot, agent);
    return true;
  }

  /** The gateways as this worker's in-memory installers see them. */
  private *installTargets(): Generator<InstallTarget> {
    for (const gateway of this.gateways) {
      yield {
        id: gateway.id,
        stateDir: updateStateDir(gateway.config),
        stop: async () => {
          if (!gateway.running) return;
          gateway.running = false;
          gateway.connected = false;
          this.feeds.get(gateway.id)?.close();
          this.feeds.delete(gateway.id);
          await gateway.agent.stop();
        },
        start: (version) => {
          const logger = this.logger.child({ gateway: gateway.id, version });
          this.launch(gateway, new Agent(gateway.config, { logger, version }));
        },
      };
    }
  }

  /** Streams a gateway's feed to a page (through the coordinator), snapshot first. */
  watch(id: string, subscription: number): void {
    const gateway = this.gateways.find((g) => g.id === id);
    if (!gateway) {
      this.send({ type: "feed", subscription, event: "ended" });
      return;
    }
    let feed = this.feeds.get(id);
    if (!feed) {
      feed = new GatewayFeed(gateway.agent);
      this.feeds.set(id, feed);
    }
    this.watches.set(
      subscription,
      feed.subscribe((event) => this.send({ type: "feed", subscription, event })),
    );
  }

  unwatch(subscription: number): void {
    this.watches.get(subscription)?.();
    this.watches.delete(subscription);
  }

  link(group: LinkGroup, fault: Extract<ToWorker, { type: "link" }>["fault"]): void {
    this.proxies.get(group)?.set(fault);
  }

  async drain(): Promise<void> {
    this.ramp?.stop();
    this.drainStartedAt = Date.now();
    await Promise.all(this.gateways.filter((g) => g.running).map((g) => g.agent.stopSampling()));
    this.checkDrained();
  }

  private checkDrained(): number {
    let drained = 0;
    if (this.drainStartedAt === null) return 0;
    for (const gateway of this.gateways) {
      if (gateway.drainMs === null && gateway.running && gateway.agent.glance().backlog === 0) {
        gateway.drainMs = Date.now() - this.drainStartedAt;
      }
      if (gateway.drainMs !== null) drained++;
    }
    return drained;
  }

  private sendStats(): void {
    let connected = 0;
    let captured = 0;
    let acknowledged = 0;
    let backlog = 0;
    let alerts = 0;
    let reconnects = 0;
    for (const gateway of this.gateways) {
      if (gateway.connected) connected++;
      captured += gateway.captured;
      acknowledged += gateway.acknowledged;
      // An agent stopped for an install holds its outbox closed: its backlog waits for the next.
      if (gateway.running) backlog += gateway.agent.glance().backlog;
      alerts += gateway.alerts;
      reconnects += Math.max(0, gateway.agent.metrics.get("connects") - 1);
    }
    const cpu = process.cpuUsage();
    const stats: WorkerStats = {
      started: this.gateways.length,
      connected,
      captured,
      acknowledged,
      backlog,
      alerts,
      reconnects,
      drained: this.checkDrained(),
      connectAttempts: Object.fromEntries(this.connectAttempts),
      rssBytes: process.memoryUsage.rss(),
      heapBytes: process.memoryUsage().heapTotal,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      ...(this.installer?.stats() ?? {
        installing: 0,
        installed: 0,
        kept: 0,
        rolledBack: 0,
        slowestRollbackMs: 0,
      }),
    };
    this.connectAttempts = new Map();
    this.send({ type: "stats", stats });
    if (this.tiles) this.send({ type: "tiles", ...this.tiles.changes() });
  }

  /** Stops every agent gracefully; returns the report (the caller sends it last). */
  async stop(): Promise<FromWorker> {
    this.ramp?.stop();
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.installer?.stop();
    this.sendStats();
    for (const unsubscribe of this.watches.values()) unsubscribe();
    for (const feed of this.feeds.values()) feed.close();
    await Promise.all(this.gateways.filter((g) => g.running).map((g) => g.agent.stop()));
    const results: GatewayResult[] = this.gateways.map((g) => {
      const status = g.agent.status();
      return {
        id: g.id,
        captured: g.captured,
        acknowledged: g.acknowledged,
        backlog: status.outbox.telemetry + status.outbox.alerts,
        evicted: status.outbox.evictedTelemetry + status.outbox.evictedAlerts,
        deadLettered: status.outbox.deadLettered,
        connects: g.agent.metrics.get("connects"),
        drainMs: g.drainMs,
        containers: [...g.containers].map(([id, r]): CapturedRange => ({
          id,
          first: r.first,
          last: r.last,
          count: r.count,
        })),
      };
    });
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.logger.flush();
    return { type: "report", gateways: results };
  }
}

const worker = new FleetWorker((message) => {
  if (process.connected) process.send?.(message);
});

/**
 * Sends the last message, then lets go of the channel. `send` only queues: a disconnect right
 * after it dropped a report of 2,500 gateways (half a megabyte) before it was written.
 */
function sendLast(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}
let stopping = false;
process.on("message", (message: ToWorker) => {
  const done = (() => {
    switch (message.type) {
      case "init":
        return worker.init(message);
      case "link":
        worker.link(message.group, message.fault);
        return Promise.resolve();
      case "drain":
        return worker.drain();
      case "watch":
        worker.watch(message.gateway, message.subscription);
        return Promise.resolve();
      case "unwatch":
        worker.unwatch(message.subscription);
        return Promise.resolve();
      case "stop":
        stopping = true;
        return worker.stop().then((report) => sendLast(report));
    }
  })();
  done.catch((error: unknown) => {
    process.exitCode = 1;
    void sendLast({ type: "failed", message: (error as Error).stack ?? String(error) });
  });
});
// A coordinator gone (killed) leaves no one to tell this worker to stop: stop gracefully.
process.on("disconnect", () => {
  if (stopping) return;
  stopping = true;
  void worker.stop().finally(() => process.exit());
});
// The coordinator decides when to stop: a Ctrl-C reaches the whole process group, and each
// worker waits for the coordinator's "drain" and "stop" rather than dying mid-commit.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => undefined);
