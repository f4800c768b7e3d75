import { setTimeout as delay } from "node:timers/promises";
import type { FleetConfig } from "../config/fleet-schema.js";
import type { HttpListener } from "../agent/http/listener.js";
import type { FleetBroker } from "./fleet-broker.js";
import { serveFleetDashboard } from "./fleet-dashboard.js";
import { gatewayId, releaseOf, shardRange } from "./fleet-file.js";
import { FleetRelease } from "./fleet-release.js";
import { startFleetServices } from "./fleet-services.js";
import type { FleetObserver } from "./observer.js";
import { ChaosPlayer } from "./chaos-player.js";
import { FleetProgress } from "./progress.js";
import type { GatewayResult } from "./protocol.js";
import { lostSeqs, type ChaosOutcome, type FleetReport } from "./report.js";
import { steadyCpu, steadySpan, type CpuSnapshot, type SteadyCpu } from "./steady-cpu.js";
import { WorkerPool } from "./worker-pool.js";

export interface FleetRunOptions {
  readonly shard: { index: number; of: number };
  /** Live lines: a progress bar and a summary on a terminal, JSON lines otherwise. */
  readonly output: (text: string) => void;
  readonly tty: boolean;
  /** Resolves when the operator asks to end the run early (Ctrl-C). */
  readonly interrupted: Promise<void>;
}

/**
 * `reefer-edge fleet`: starts the broker and the observer when asked, has the worker pool run
 * the gateways, ramps, plays the chaos schedule (ChaosPlayer), drains and reports; FleetProgress
 * tells the operator as it goes.
 */
export class FleetCoordinator {
  private readonly pool: WorkerPool;
  private readonly progress: FleetProgress;
  private broker: FleetBroker | null = null;
  private observer: FleetObserver | null = null;
  private rampBegan = 0;
  /** When every gateway was first connected at once (the ramp's end, even past its limit). */
  private allConnectedAt: number | null = null;
  private readonly range: [number, number];
  private http: HttpListener | null = null;

  constructor(
    private readonly fleet: FleetConfig,
    private readonly options: FleetRunOptions,
  ) {
    this.range = shardRange(fleet.gateways, options.shard);
    this.progress = new FleetProgress(options.output, options.tty, this.total);
    this.pool = new WorkerPool(
      (at) => {
        if (this.rampBegan > 0 && this.allConnectedAt === null && this.connectedAll()) {
          this.allConnectedAt = at;
        }
      },
      (message) => this.progress.board?.onMessage(message),
    );
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

  private connectedAll(): boolean {
    return this.pool.sum("connected") === this.total;
  }

  private async runPhases(): Promise<FleetReport> {
    const { fleet, pool, progress } = this;
    // The release key's public half must be in place before any gateway starts.
    const release = releaseOf(fleet) ? FleetRelease.prepare(fleet) : null;
    const { brokerUrl, ca, broker, observer } = await startFleetServices(fleet, this.options.shard);
    this.broker = broker;
    this.observer = observer;
    progress.event({ phase: "start", gateways: this.total, broker: brokerUrl });
    if (fleet.http.listen !== undefined) await this.startDashboard();

    pool.fork(fleet, this.range, (start, end) => ({
      type: "init",
      fleet,
      range: [start, end],
      connectsPerSecond: (fleet.ramp.connectsPerSecond * (end - start)) / this.total,
      brokerUrl,
      ca,
      firstTile: progress.board ? (start - this.range[0]) * fleet.containersPerGateway : null,
    }));
    const ticker = setInterval(() => {
      progress.live((field) => pool.sum(field));
    }, 1000);
    try {
      // Each worker first makes its gateways' certificates (about half a minute for 10,000 on
      // first use), then ramps; the ramp is timed from the last worker's start.
      await pool.until(() => pool.allReady, this.total * 20 + 60_000);
      this.rampBegan = Date.now();
      const rampLimit = Math.max(60, (this.total / fleet.ramp.connectsPerSecond) * 3 + 30);
      const connected = await pool.until(() => this.connectedAll(), rampLimit * 1000);
      progress.event({
        phase: connected ? "connected" : "ramp limit reached: sampling begins",
        seconds: (Date.now() - this.rampBegan) / 1000,
        connected: pool.sum("connected"),
      });

      const runBegan = Date.now();
      // Ctrl-C ends the run: chaos not yet begun is skipped (one under way plays out, so its
      // fault is undone), and no timer is left to hold the process open after the report.
      const ended = new AbortController();
      const player = new ChaosPlayer(
        fleet,
        pool,
        broker,
        progress,
        this.total,
        release && {
          rehearsal: release,
          broker: { url: brokerUrl, ca },
          things: Array.from({ length: this.total }, (_, i) => gatewayId(fleet, this.range[0] + i)),
        },
      );
      const chaos = Promise.all(
        fleet.chaos.map((event) => player.play(event, runBegan, ended.signal)),
      );
      const steady = this.steadyWindow(runBegan, ended.signal);
      await Promise.race([
        delay(fleet.durationSeconds * 1000, undefined, { signal: ended.signal }).catch(() => {}),
        this.options.interrupted,
      ]);
      ended.abort();
      const runSeconds = (Date.now() - runBegan) / 1000;
      const outcomes = (await chaos).filter((o): o is ChaosOutcome => o !== null);
      const steadyCpu = await steady;

      progress.event({ phase: "drain" });
      pool.sendAll({ type: "drain" });
      const drainBegan = Date.now();
      await pool.until(
        () => pool.sum("drained") === pool.sum("started") && pool.sum("backlog") === 0,
        fleet.drainTimeoutSeconds * 1000,
      );
      progress.event({ phase: "stop", drainSeconds: (Date.now() - drainBegan) / 1000 });
      const results = await pool.stop();
      const rampSeconds =
        this.allConnectedAt === null ? null : (this.allConnectedAt - this.rampBegan) / 1000;
      return await this.buildReport(results, rampSeconds, runSeconds, outcomes, steadyCpu);
    } finally {
      clearInterval(ticker);
    }
  }

  /** The workers' CPU a reading in steady state (steadySpan); null: no window, or Ctrl-C. */
  private async steadyWindow(runBegan: number, ended: AbortSignal): Promise<SteadyCpu | null> {
    const { fleet, pool } = this;
    const span = steadySpan(
      fleet.durationSeconds,
      fleet.chaos.map((c) => c.atSeconds),
    );
    if (!span) return null;
    const at = async (seconds: number): Promise<CpuSnapshot> => {
      await delay(Math.max(0, runBegan + seconds * 1000 - Date.now()), undefined, {
        signal: ended,
      });
      return {
        cpuSeconds: pool.sum("cpuSeconds"),
        cpuSystemSeconds: pool.sum("cpuSystemSeconds"),
        captured: pool.sum("captured"),
        at: Date.now(),
      };
    };
    try {
      const from = await at(span.from);
      return steadyCpu(from, await at(span.to));
    } catch {
      return null; // the run ended (Ctrl-C) first
    }
  }

  /** The fleet's dashboard on its HTTP listener: the tiles, and each gateway's own view. */
  private async startDashboard(): Promise<void> {
    const dashboard = await serveFleetDashboard(this.fleet, this.range, () => this.pool.routes());
    this.progress.board = dashboard.board;
    this.http = dashboard.http;
    this.progress.event({ phase: "dashboard", url: dashboard.url });
  }

  private async buildReport(
    results: GatewayResult[],
    rampSeconds: number | null,
    runSeconds: number,
    chaos: ChaosOutcome[],
    steadyCpu: SteadyCpu | null,
  ): Promise<FleetReport> {
    const observer = this.observer;
    const missing = () =>
      observer
        ? results.reduce((sum, r) => sum + lostSeqs(r, (c, s) => observer.has(c, s)).length, 0)
        : 0;
    // Acknowledged by the broker means queued for the observer: give its delivery a moment.
    if (observer) await this.pool.until(() => missing() === 0, 30_000);
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
      alerts: this.pool.sum("alerts"),
      reconnects: this.pool.sum("reconnects"),
      peakRssBytes: this.pool.peakRss,
      heapAtPeakRssBytes: this.pool.heapAtPeakRss,
      workerCpuSeconds: this.pool.sum("cpuSeconds"),
      steadyCpu,
      chaos,
      observed: observer !== null,
      perGateway,
    };
  }

  private async shutdown(): Promise<void> {
    await this.http?.stop();
    this.http = null;
    await this.pool.shutdown();
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
