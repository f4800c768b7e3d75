import { fork, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import type { ChaosEvent, FleetConfig } from "../config/fleet-schema.js";
import type { HttpListener } from "../agent/http/listener.js";
import type { FleetBroker } from "./fleet-broker.js";
import type { FleetBoard } from "./fleet-board.js";
import { serveFleetDashboard } from "./fleet-dashboard.js";
import { shardRange } from "./fleet-file.js";
import { startFleetServices } from "./fleet-services.js";
import type { LinkFault } from "./link-proxy.js";
import type { FleetObserver } from "./observer.js";
import type { FromWorker, GatewayResult, LinkGroup, ToWorker, WorkerStats } from "./protocol.js";
import { lostSeqs, peakPerSecond, type ChaosOutcome, type FleetReport } from "./report.js";

export interface FleetRunOptions {
  readonly shard: { index: number; of: number };
  /** Live lines: a progress bar and a summary on a terminal, JSON lines otherwise. */
  readonly output: (text: string) => void;
  readonly tty: boolean;
  /** Resolves when the operator asks to end the run early (Ctrl-C). */
  readonly interrupted: Promise<void>;
}

interface Worker {
  readonly child: ChildProcess;
  /** Gateway indices [start, end) it runs. */
  readonly range: readonly [number, number];
  stats: WorkerStats | null;
  /** When the last stats arrived: a check after a fault must not read stats from before it. */
  statsAt: number;
  report: readonly GatewayResult[] | null;
  ready: boolean;
}

const EMPTY_STATS: WorkerStats = {
  started: 0,
  connected: 0,
  captured: 0,
  acknowledged: 0,
  backlog: 0,
  alerts: 0,
  reconnects: 0,
  drained: 0,
  connectAttempts: {},
  rssBytes: 0,
  cpuSeconds: 0,
};

/**
 * `reefer-edge fleet`: makes the certificates' issuer, starts the broker when asked, forks the
 * worker processes that run the gateways, ramps, plays the chaos schedule, drains and reports.
 */
export class FleetCoordinator {
  private readonly workers: Worker[] = [];
  private broker: FleetBroker | null = null;
  private observer: FleetObserver | null = null;
  /** CONNECT attempts of the whole fleet by Unix second. */
  private readonly attempts = new Map<number, number>();
  private peakRss = 0;
  private failure: string | null = null;
  private rampBegan = 0;
  /** When every gateway was first connected at once (the ramp's end, even past its limit). */
  private allConnectedAt: number | null = null;
  private readonly range: [number, number];
  private board: FleetBoard | null = null;
  private http: HttpListener | null = null;

  constructor(
    private readonly fleet: FleetConfig,
    private readonly options: FleetRunOptions,
  ) {
    this.range = shardRange(fleet.gateways, options.shard);
  }

  get total(): number {
    return this.range[1] - this.range[0];
  }

  async run(): Promise<FleetReport> {
    try {
      return await this.runPhases();
    } finally {
      await this.shutdown();
    }
  }

  private async runPhases(): Promise<FleetReport> {
    const { fleet } = this;
    const { brokerUrl, ca, broker, observer } = await startFleetServices(fleet, this.options.shard);
    this.broker = broker;
    this.observer = observer;
    this.event({ phase: "start", gateways: this.total, broker: brokerUrl });
    if (fleet.http.listen !== undefined) await this.startDashboard();

    this.forkWorkers(brokerUrl, ca);
    const ticker = setInterval(() => this.showLive(), 1000);
    try {
      // Each worker first makes its gateways' certificates (about half a minute for 10,000 on
      // first use), then ramps; the ramp is timed from the last worker's start.
      await this.until(() => this.workers.every((w) => w.ready), this.total * 20 + 60_000);
      this.rampBegan = Date.now();
      const rampLimit = Math.max(60, (this.total / fleet.ramp.connectsPerSecond) * 3 + 30);
      const connected = await this.until(
        () => this.sum("connected") === this.total,
        rampLimit * 1000,
      );
      this.event({
        phase: connected ? "connected" : "ramp limit reached: sampling begins",
        seconds: (Date.now() - this.rampBegan) / 1000,
        connected: this.sum("connected"),
      });

      const runBegan = Date.now();
      // Ctrl-C ends the run: chaos not yet begun is skipped (one under way plays out, so its
      // fault is undone), and no timer is left to hold the process open after the report.
      const ended = new AbortController();
      const chaos = Promise.all(
        fleet.chaos.map((event) => this.playChaos(event, runBegan, ended.signal)),
      );
      await Promise.race([
        delay(fleet.durationSeconds * 1000, undefined, { signal: ended.signal }).catch(() => {}),
        this.options.interrupted,
      ]);
      ended.abort();
      const runSeconds = (Date.now() - runBegan) / 1000;
      const outcomes = (await chaos).filter((o): o is ChaosOutcome => o !== null);

      this.event({ phase: "drain" });
      this.sendAll({ type: "drain" });
      const drainBegan = Date.now();
      await this.until(
        () => this.sum("drained") === this.sum("started") && this.sum("backlog") === 0,
        fleet.drainTimeoutSeconds * 1000,
      );
      this.event({ phase: "stop", drainSeconds: (Date.now() - drainBegan) / 1000 });
      const results = await this.stopWorkers();
      const rampSeconds =
        this.allConnectedAt === null ? null : (this.allConnectedAt - this.rampBegan) / 1000;
      return await this.buildReport(results, rampSeconds, runSeconds, outcomes);
    } finally {
      clearInterval(ticker);
    }
  }

  /** The fleet's dashboard on its HTTP listener: the tiles, and each gateway's own view. */
  private async startDashboard(): Promise<void> {
    const { fleet } = this;
    const dashboard = await serveFleetDashboard(fleet, this.range, () =>
      this.workers.map((w) => ({
        range: w.range,
        send: (message: ToWorker) => {
          if (w.child.connected) w.child.send(message);
        },
      })),
    );
    this.board = dashboard.board;
    this.http = dashboard.http;
    this.event({ phase: "dashboard", url: dashboard.url });
  }

  private forkWorkers(brokerUrl: string, ca: string | undefined): void {
    const { fleet } = this;
    const count = Math.ceil(this.total / fleet.gatewaysPerWorker);
    const per = Math.ceil(this.total / count);
    for (let i = 0; i < count; i++) {
      const start = this.range[0] + i * per;
      const end = Math.min(this.range[1], start + per);
      const child = fork(new URL("./worker.js", import.meta.url), [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // Each gateway's outbox syncs its WAL in libuv's thread pool (WalSync): thousands of
        // outboxes share it, so a worker gets more threads than the default 4 to wait on the disk.
        env: { UV_THREADPOOL_SIZE: "8", ...process.env },
      });
      const worker: Worker = {
        child,
        range: [start, end],
        stats: null,
        statsAt: 0,
        report: null,
        ready: false,
      };
      child.on("message", (message: FromWorker) => this.onMessage(worker, message));
      child.on("exit", (code) => {
        if (worker.report === null && code !== 0) {
          this.failure ??= `a worker (gateways ${start}-${end - 1}) exited with ${code}`;
        }
      });
      this.workers.push(worker);
      child.send({
        type: "init",
        fleet,
        range: [start, end],
        connectsPerSecond: (fleet.ramp.connectsPerSecond * (end - start)) / this.total,
        brokerUrl,
        ca,
        firstTile: this.board ? (start - this.range[0]) * fleet.containersPerGateway : null,
      } satisfies ToWorker);
    }
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case "ready":
        worker.ready = true;
        return;
      case "stats":
        worker.stats = message.stats;
        worker.statsAt = Date.now();
        if (
          this.rampBegan > 0 &&
          this.allConnectedAt === null &&
          this.sum("connected") === this.total
        ) {
          this.allConnectedAt = worker.statsAt;
        }
        for (const [second, n] of Object.entries(message.stats.connectAttempts)) {
          this.attempts.set(Number(second), (this.attempts.get(Number(second)) ?? 0) + n);
        }
        this.peakRss = Math.max(
          this.peakRss,
          this.workers.reduce((sum, w) => sum + (w.stats?.rssBytes ?? 0), 0),
        );
        return;
      case "report":
        worker.report = message.gateways;
        return;
      case "failed":
        this.failure ??= message.message;
        return;
      case "tiles":
      case "feed":
        this.board?.onMessage(message);
        return;
    }
  }

  private sum(field: keyof Omit<WorkerStats, "connectAttempts">): number {
    return this.workers.reduce((total, w) => total + (w.stats ?? EMPTY_STATS)[field], 0);
  }

  private sendAll(message: ToWorker): void {
    for (const worker of this.workers) {
      if (worker.child.connected) worker.child.send(message);
    }
  }

  /** Polls `condition` every 200 ms; false after `ms`. Throws when a worker failed. */
  private async until(condition: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.failure !== null) throw new Error(`fleet: ${this.failure}`);
      if (condition()) return true;
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  }

  /** Plays one chaos event at its time; null when the run ended before that time. */
  private async playChaos(
    event: ChaosEvent,
    runBegan: number,
    ended: AbortSignal,
  ): Promise<ChaosOutcome | null> {
    const due = Math.max(0, runBegan + event.atSeconds * 1000 - Date.now());
    try {
      await delay(due, undefined, { signal: ended });
    } catch {
      return null;
    }
    const began = Date.now();
    const from = Math.floor(began / 1000);
    this.event({ phase: "chaos", kind: event.kind, state: "begins" });
    let faultSeconds: number;
    let endedAt: number;
    let affected = this.total;
    switch (event.kind) {
      case "broker-restart": {
        if (this.broker) {
          await this.broker.pause();
          await sleep(event.downSeconds * 1000);
          await this.broker.resume();
        } else {
          this.event({ phase: "chaos", kind: event.kind, state: "restart the broker now" });
          await this.until(() => this.sum("connected") === 0, event.waitSeconds * 1000);
        }
        endedAt = Date.now();
        faultSeconds = (endedAt - began) / 1000;
        break;
      }
      case "partition":
      case "slow-link": {
        const group: LinkGroup = event.kind === "partition" ? "partition" : "slow";
        const fault: LinkFault =
          event.kind === "partition"
            ? { kind: "blackhole" }
            : { kind: "slow", latencyMs: event.latencyMs, bytesPerSecond: event.bytesPerSecond };
        affected = Math.round(this.total * event.fraction);
        this.sendAll({ type: "link", group, fault });
        await sleep(event.durationSeconds * 1000);
        this.sendAll({ type: "link", group, fault: { kind: "none" } });
        endedAt = Date.now();
        faultSeconds = event.durationSeconds;
        break;
      }
    }
    const back = await this.until(
      () => this.workers.every((w) => w.statsAt > endedAt) && this.sum("connected") === this.total,
      Math.max(120, this.fleet.drainTimeoutSeconds) * 1000,
    );
    const backAt = Date.now();
    this.event({ phase: "chaos", kind: event.kind, state: back ? "all back" : "not all back" });
    // The stats of the last second arrive within a second.
    await sleep(1500);
    const to = Math.floor(backAt / 1000);
    const reconnect = this.fleet.agent.mqtt as
      { reconnect?: { initialDelayMs?: number } } | undefined;
    const initialDelayMs = reconnect?.reconnect?.initialDelayMs ?? 1000;
    return {
      kind: event.kind,
      atSeconds: (began - runBegan) / 1000,
      faultSeconds,
      backAfterSeconds: back ? (backAt - endedAt) / 1000 : null,
      peakConnectAttemptsPerSecond: peakPerSecond(this.attempts, from, to),
      peakBrokerConnectsPerSecond: this.broker
        ? peakPerSecond(this.broker.connectsPerSecond(), from, to)
        : null,
      impliedPeakPerSecond: Math.min(affected, (affected * 1000) / initialDelayMs),
    };
  }

  private async stopWorkers(): Promise<GatewayResult[]> {
    this.sendAll({ type: "stop" });
    await this.until(() => this.workers.every((w) => w.report !== null), 120_000);
    return this.workers.flatMap((w) => w.report ?? []);
  }

  private async buildReport(
    results: GatewayResult[],
    rampSeconds: number | null,
    runSeconds: number,
    chaos: ChaosOutcome[],
  ): Promise<FleetReport> {
    const observer = this.observer;
    const missing = () =>
      observer
        ? results.reduce((sum, r) => sum + lostSeqs(r, (c, s) => observer.has(c, s)).length, 0)
        : 0;
    // Acknowledged by the broker means queued for the observer: give its delivery a moment.
    if (observer) await this.until(() => missing() === 0, 30_000);
    const perGateway = results.map((r) => ({
      ...r,
      lost: observer ? lostSeqs(r, (c, s) => observer.has(c, s)).length : 0,
      duplicates: observer?.duplicatesOf(r.id) ?? 0,
    }));
    const drains = perGateway.map((g) => g.drainMs);
    return {
      gateways: results.length,
      containers: results.reduce((sum, r) => sum + r.containers.length, 0),
      shard: `${this.options.shard.index}/${this.options.shard.of}`,
      rampSeconds,
      runSeconds,
      captured: sumOf(perGateway, "captured"),
      acknowledged: sumOf(perGateway, "acknowledged"),
      received: observer?.received ?? 0,
      lost: sumOf(perGateway, "lost"),
      duplicates: observer?.duplicates ?? 0,
      evicted: sumOf(perGateway, "evicted"),
      deadLettered: sumOf(perGateway, "deadLettered"),
      backlogLeft: sumOf(perGateway, "backlog"),
      drainSeconds: drains.some((d) => d === null)
        ? null
        : Math.max(0, ...(drains as number[])) / 1000,
      alerts: this.sum("alerts"),
      reconnects: this.sum("reconnects"),
      peakRssBytes: this.peakRss,
      workerCpuSeconds: this.sum("cpuSeconds"),
      chaos,
      observed: observer !== null,
      perGateway,
    };
  }

  private showLive(): void {
    const connected = this.sum("connected");
    this.board?.tick({
      connected,
      captured: this.sum("captured"),
      acknowledged: this.sum("acknowledged"),
      backlog: this.sum("backlog"),
    });
    const started = this.sum("started");
    if (this.options.tty) {
      const width = 30;
      const filled = Math.round((connected / Math.max(1, this.total)) * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      this.options.output(
        `\r[${bar}] ${connected}/${this.total} connected, ${started} started | ` +
          `captured ${this.sum("captured")} acked ${this.sum("acknowledged")} ` +
          `backlog ${this.sum("backlog")} alerts ${this.sum("alerts")} reconnects ${this.sum("reconnects")}   `,
      );
    } else {
      this.event({
        phase: "live",
        started,
        connected,
        captured: this.sum("captured"),
        acknowledged: this.sum("acknowledged"),
        backlog: this.sum("backlog"),
        alerts: this.sum("alerts"),
        reconnects: this.sum("reconnects"),
      });
    }
  }

  private event(fields: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...fields });
    this.options.output(this.options.tty ? `\n${line}\n` : `${line}\n`);
  }

  private async shutdown(): Promise<void> {
    await this.http?.stop();
    this.http = null;
    for (const worker of this.workers) {
      if (worker.report === null && worker.child.exitCode === null) {
        if (worker.child.connected) worker.child.send({ type: "stop" } satisfies ToWorker);
      }
    }
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) {
              resolve();
              return;
            }
            const kill = setTimeout(() => w.child.kill("SIGKILL"), 60_000);
            w.child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
          }),
      ),
    );
    await this.observer?.close();
    await this.broker?.stop();
  }
}

function sumOf<T>(
  rows: readonly T[],
  field: { [K in keyof T]: T[K] extends number ? K : never }[keyof T],
): number {
  return rows.reduce((sum, row) => sum + (row[field] as number), 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
