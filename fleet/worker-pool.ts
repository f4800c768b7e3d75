import { fork, type ChildProcess } from "node:child_process";
import type { FleetConfig } from "../config/fleet-schema.js";
import type { FromWorker, GatewayResult, ToWorker, WorkerStats } from "./protocol.js";

/** A figure of the workers' stats that adds up across workers. */
export type SummedStat = keyof Omit<WorkerStats, "connectAttempts">;

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
  heapBytes: 0,
  cpuSeconds: 0,
  cpuSystemSeconds: 0,
  installing: 0,
  installed: 0,
  kept: 0,
  rolledBack: 0,
  slowestRollbackMs: 0,
};

/**
 * The worker processes that run a shard's gateways (fleet/worker.ts), and what they report: their
 * stats summed, the fleet's CONNECT attempts by second, the peak memory, a worker's failure.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  /** CONNECT attempts of the whole fleet by Unix second. */
  readonly attempts = new Map<number, number>();
  peakRss = 0;
  /** V8's committed heap over the workers when their RSS was at its peak: that RSS's JavaScript part. */
  heapAtPeakRss = 0;
  private failure: string | null = null;

  constructor(
    /** Called with every stats message, after it is counted (the coordinator marks the ramp's end). */
    private readonly onStats: (at: number) => void,
    /** Tiles and feeds, for the fleet's dashboard. */
    private readonly onBoard: (message: Extract<FromWorker, { type: "tiles" | "feed" }>) => void,
  ) {}

  /** Forks enough workers for `range`, each told its gateways and its share of the ramp. */
  fork(
    fleet: FleetConfig,
    range: readonly [number, number],
    init: (start: number, end: number) => ToWorker,
  ): void {
    const total = range[1] - range[0];
    const count = Math.ceil(total / fleet.gatewaysPerWorker);
    const per = Math.ceil(total / count);
    for (let i = 0; i < count; i++) {
      const start = range[0] + i * per;
      const end = Math.min(range[1], start + per);
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
      child.on("message", (message: FromWorker) => {
        this.onMessage(worker, message);
      });
      child.on("exit", (code) => {
        if (worker.report === null && code !== 0) {
          this.failure ??= `a worker (gateways ${start}-${end - 1}) exited with ${code}`;
        }
      });
      this.workers.push(worker);
      child.send(init(start, end));
    }
  }

  /** Each worker's gateways and a way to message it, for the dashboard's drill-down. */
  routes(): { range: readonly [number, number]; send: (message: ToWorker) => void }[] {
    return this.workers.map((w) => ({
      range: w.range,
      send: (message: ToWorker) => {
        if (w.child.connected) w.child.send(message);
      },
    }));
  }

  private notePeak(): void {
    let rss = 0;
    let heap = 0;
    for (const w of this.workers) {
      rss += w.stats?.rssBytes ?? 0;
      heap += w.stats?.heapBytes ?? 0;
    }
    if (rss <= this.peakRss) return;
    this.peakRss = rss;
    this.heapAtPeakRss = heap;
  }

  get allReady(): boolean {
    return this.workers.every((w) => w.ready);
  }

  /** Every worker reported stats taken after `at` (ms since the epoch). */
  reportedSince(at: number): boolean {
    return this.workers.every((w) => w.statsAt > at);
  }

  sum(field: SummedStat): number {
    return this.workers.reduce((total, w) => total + (w.stats ?? EMPTY_STATS)[field], 0);
  }

  max(field: SummedStat): number {
    return this.workers.reduce((most, w) => Math.max(most, (w.stats ?? EMPTY_STATS)[field]), 0);
  }

  sendAll(message: ToWorker): void {
    for (const worker of this.workers) {
      if (worker.child.connected) worker.child.send(message);
    }
  }

  /** Polls `condition` every 200 ms; false after `ms`. Throws when a worker failed. */
  async until(condition: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.failure !== null) throw new Error(`fleet: ${this.failure}`);
      if (condition()) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Asks every worker to stop and report its gateways; their results. */
  async stop(): Promise<GatewayResult[]> {
    this.sendAll({ type: "stop" });
    await this.until(() => this.workers.every((w) => w.report !== null), 120_000);
    return this.workers.flatMap((w) => w.report ?? []);
  }

  /** Stops what still runs (a run that failed): asks, then kills after a minute. */
  async shutdown(): Promise<void> {
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
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case "ready":
        worker.ready = true;
        return;
      case "stats":
        worker.stats = message.stats;
        worker.statsAt = Date.now();
        for (const [second, n] of Object.entries(message.stats.connectAttempts)) {
          this.attempts.set(Number(second), (this.attempts.get(Number(second)) ?? 0) + n);
        }
        this.notePeak();
        this.onStats(worker.statsAt);
        return;
      case "report":
        worker.report = message.gateways;
        return;
      case "failed":
        this.failure ??= message.message;
        return;
      case "tiles":
      case "feed":
        this.onBoard(message);
        return;
    }
  }
}
