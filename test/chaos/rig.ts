import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCli, type RunningCli } from "../support/cli.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { Monitor } from "../support/monitor.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { waitFor } from "../support/wait-for.js";

export const SCENARIO_GATEWAYS = [
  "gw-outage",
  "gw-kill",
  "gw-link",
  "gw-steal",
  "gw-corrupt",
  "gw-disk",
  "gw-clock",
] as const;
export type ScenarioGateway = (typeof SCENARIO_GATEWAYS)[number];

/** One line of the chaos table (and of RELIABILITY.md). */
export interface ScenarioFigures {
  readonly scenario: string;
  readonly iterations: number;
  readonly captured: number;
  readonly received: number;
  readonly lost: number;
  /** Readings evicted under the lane policy (disk budget or full disk): counted, by design. */
  readonly evicted: number;
  readonly duplicates: number;
  readonly drainSeconds: number;
  readonly integrity: string;
  readonly note: string;
  /** For a failure message: the seqs lost, as ranges per container, and what the broker said. */
  readonly diagnosis: string;
}

/**
 * The chaos suite's shared rig: one Mosquitto with mTLS (persistent sessions, so the monitor
 * misses nothing across a graceful broker restart), a PKI with one gateway certificate per
 * scenario, the monitoring subscriber, a fault proxy in front of the broker, and the real agent
 * process (`reefer-edge run`).
 */
export class ChaosRig {
  private constructor(
    readonly temp: ReturnType<typeof makeTempDir>,
    readonly pki: TestPki,
    readonly broker: MosquittoBroker,
    readonly monitor: Monitor,
    readonly proxy: FaultProxy,
  ) {}

  static async start(mosquitto: string): Promise<ChaosRig> {
    const temp = makeTempDir("reefer-edge-chaos-");
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    const pki = makePki(dir, [...SCENARIO_GATEWAYS, MONITOR, "thief"]);
    const broker = await MosquittoBroker.start(mosquitto, dir, pki);
    const monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
    const proxy = await FaultProxy.start(broker.port);
    return new ChaosRig(temp, pki, broker, monitor, proxy);
  }

  async stop(): Promise<void> {
    await this.proxy.close();
    await this.monitor.close();
    await this.broker.stop();
    this.temp.cleanup();
  }

  dbPath(gateway: ScenarioGateway): string {
    return join(this.dataDir(gateway), "outbox.db");
  }

  /** Where a scenario's outbox lives; the disk-full scenario mounts a tmpfs there. */
  dataDir(gateway: ScenarioGateway): string {
    return join(this.temp.dir, gateway);
  }

  /** Writes the agent config of a scenario: simulated reefers sampling every 100 ms. */
  config(
    gateway: ScenarioGateway,
    options: { viaProxy?: boolean; keepaliveSeconds?: number; extraContainers?: number } = {},
  ): string {
    const extra = Array.from(
      { length: options.extraContainers ?? 0 },
      (_, i) =>
        `  - { id: X${String(i).padStart(2, "0")}, product: P02, driver: { type: simulated, seed: ${i + 10} } }`,
    ).join("\n");
    const { cert, key } = this.pki.client(gateway);
    const url = options.viaProxy ? `mqtts://127.0.0.1:${this.proxy.port}` : this.broker.url;
    const file = join(this.temp.dir, `${gateway}.yaml`);
    writeFileSync(
      file,
      `version: 1
gateway: { id: ${gateway} }
mqtt:
  url: "${url}"
  ca: "${this.pki.caCert}"
  cert: "${cert}"
  key: "${key}"
  keepaliveSeconds: ${options.keepaliveSeconds ?? 10}
  connectTimeoutMs: 5000
  reconnect: { initialDelayMs: 200, maxDelayMs: 2000, stableAfterMs: 5000 }
buffer: { path: "${this.dbPath(gateway)}" }
sampling: { intervalMs: 100 }
containers:
  - { id: C01, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: C02, product: P05, driver: { type: simulated, seed: 2, scenario: temperature-rising, timeScale: 600 } }
${extra}
log: { level: info }
`,
    );
    return file;
  }

  /**
   * Starts the agent of the scenario whose config is `file`; every reading it captures durably
   * goes to that gateway's captured report too, which the scenarios count to pace their faults.
   */
  startAgent(file: string, env: NodeJS.ProcessEnv = {}): RunningCli {
    const report = `${file.replace(/\.yaml$/, "")}.captured.jsonl`;
    return startCli(["run", "--config", file, "--captured-report", report], env);
  }

  /** Readings the gateway's agents have reported durably captured, all runs together. */
  captured(gateway: ScenarioGateway): number {
    const report = join(this.temp.dir, `${gateway}.captured.jsonl`);
    if (!existsSync(report)) return 0;
    let lines = 0;
    for (const byte of readFileSync(report)) if (byte === 0x0a) lines++;
    return lines;
  }

  /**
   * Lets the scenario run until its agent has captured `readings` more (at 10 Hz, two
   * containers: 20 a second on an idle machine): a fault lasts so many readings, not so many
   * seconds, so a busy machine makes it longer, never shorter.
   */
  async runFor(gateway: ScenarioGateway, readings: number, agent?: RunningCli): Promise<void> {
    const want = this.captured(gateway) + readings;
    await waitFor(
      `${readings} readings captured by ${gateway}`,
      () => {
        if (agent && agent.child.exitCode !== null)
          throw new Error(`${gateway}'s agent exited: ${agent.stderr.slice(-400)}`);
        return this.captured(gateway) >= want;
      },
      120_000 + readings * 200,
    );
  }

  /**
   * Starts a last graceful run (when `file` is given), waits until the outbox is drained, stops
   * it, and checks: every seq the outbox ever assigned was received or is still buffered.
   */
  async settle(
    gateway: ScenarioGateway,
    scenario: string,
    iterations: number,
    note: string,
    running?: RunningCli,
  ): Promise<ScenarioFigures> {
    const started = Date.now();
    const agent = running ?? this.startAgent(join(this.temp.dir, `${gateway}.yaml`));
    await agent.waitForOutput(/connected to the broker/, 60_000);
    const db = new Database(this.dbPath(gateway), { readonly: true });
    // The backlog is what the outbox held when the broker came back: drained once none of those
    // rows is left. (Counting every row would count what this second captured, and what the
    // broker acknowledged, which the next capture's commit deletes.)
    const backlogEnd =
      db.prepare<[], { id: number | null }>("SELECT MAX(id) AS id FROM outbox").get()?.id ?? 0;
    const waiting = () =>
      db
        .prepare<[number], { n: number }>(
          "SELECT COUNT(*) AS n FROM outbox WHERE lane IN (0, 1) AND id <= ?",
        )
        .get(backlogEnd)?.n ?? 0;
    await this.monitor.waitFor(() => waiting() === 0, `${scenario}: the backlog to drain`, 120_000);
    const drainSeconds = (Date.now() - started) / 1000;
    agent.child.kill("SIGTERM");
    const code = await agent.exited;
    if (code !== 0)
      throw new Error(`${scenario}: the agent exited with ${String(code)}:\n${agent.stderr}`);

    const sequences = db
      .prepare<[], { container_id: string; last_seq: number }>(
        // Containers only: not the audit log's row.
        "SELECT container_id, last_seq FROM sequences WHERE container_id NOT LIKE '#%'",
      )
      .all();
    const base =
      db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'seq_base'").get()
        ?.value ?? 0;
    const buffered = new Set(
      db
        .prepare<[], { k: string }>(
          "SELECT container_id || '#' || seq AS k FROM outbox WHERE lane = 1",
        )
        .all()
        .map((r) => r.k),
    );
    const integrity = String(db.pragma("integrity_check", { simple: true }));
    const evicted =
      db
        .prepare<[], { value: number }>(
          "SELECT value FROM counters WHERE name = 'evicted_telemetry'",
        )
        .get()?.value ?? 0;
    const deadLetters = db
      .prepare<[], { reason: string; n: number }>(
        "SELECT reason, COUNT(*) AS n FROM dead_letter GROUP BY reason",
      )
      .all()
      .map((r) => `${r.n} × ${r.reason}`)
      .join("; ");
    db.close();
    // After a replaced database, what counts is what the new one assigned (seq above its base).
    const mine = this.monitor.readings.filter(
      (r) => r.reading.gateway_id === gateway && r.reading.seq > base,
    );
    const distinct = new Set(mine.map((r) => `${r.reading.container_id}#${r.reading.seq}`));
    let captured = 0;
    let lost = 0;
    const ranges: string[] = [];
    for (const { container_id, last_seq } of sequences) {
      const first = base + 1; // 1, or past the wall-clock base after a corrupt database was replaced
      captured += last_seq - first + 1;
      let from: number | null = null;
      for (let seq = first; seq <= last_seq + 1; seq++) {
        const key = `${container_id}#${seq}`;
        const missing = seq <= last_seq && !distinct.has(key) && !buffered.has(key);
        if (missing) lost++;
        if (missing && from === null) from = seq;
        if (!missing && from !== null) {
          ranges.push(`${container_id} ${from}-${seq - 1}`);
          from = null;
        }
      }
    }
    const agentSaid = agent.stdout
      .split("\n")
      .filter((line) => /"level":(40|50|60)/.test(line))
      .slice(-10)
      .join("\n");
    const brokerSaid = this.broker
      .log()
      .split("\n")
      .filter((line) => /monitor|dropp|[Ee]rror|[Ww]arning/.test(line))
      .slice(-15)
      .join("\n");
    return {
      scenario,
      iterations,
      captured,
      received: distinct.size,
      lost,
      evicted,
      duplicates: mine.length - distinct.size,
      drainSeconds,
      integrity,
      note,
      diagnosis:
        lost === 0
          ? ""
          : `missing seqs: ${ranges.join(", ")}; dead letters: ${deadLetters || "none"}; the monitor's connection dropped ${this.monitor.disconnects} times; the agent's last warnings:\n${agentSaid}\nthe broker's log about the monitor:\n${brokerSaid}`,
    };
  }
}

export function formatTable(rows: readonly ScenarioFigures[]): string {
  return [
    "| scenario | iterations | captured | received | lost uncounted | evicted (counted) | duplicates | time to drain | integrity | notes |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.iterations} | ${r.captured} | ${r.received} | ${Math.max(0, r.lost - r.evicted)} | ${r.evicted} | ${r.duplicates} | ${r.drainSeconds.toFixed(1)} s | ${r.integrity} | ${r.note} |`,
    ),
  ].join("\n");
}
