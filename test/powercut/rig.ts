import Database from "better-sqlite3";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS } from "../../agent/outbox/database.js";
import type { ReeferReading } from "../../core/record.js";
import { startCli, type RunningCli } from "../support/cli.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { Monitor } from "../support/monitor.js";
import { judgeAuditLogs, type AuditLogsVerdict } from "./audit-logs.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeReading } from "../support/readings.js";
import { makeTempDir } from "../support/tmp.js";
import { PowerCutDisk } from "./disk.js";
import { judge, keyOf, readCapturedReport, type CutRecord, type Verdict } from "./verdict.js";

/**
 * Where a cut lands. "random": after a random number of captured readings, at whatever the
 * agent was doing; "new outbox in use": the same on a gateway's first run, while its outbox is
 * new. The others arm the disk to cut right before the named operation.
 */
export const CUT_POINTS = [
  "random",
  "capture commit",
  "background sync",
  "acknowledgement",
  "checkpoint",
  "first start",
  "new outbox in use",
  "migration",
  "lock",
] as const;
/**
 * Besides CUT_POINTS, "clock correction": the agent starts with its wall clock in 1970
 * (libfaketime; RigOptions.faketime), captures readings stamped "unsynced", the clock is
 * stepped to the true time, and the cut lands 0 to 5 readings later: before, during or after
 * the rewrite of the buffered readings' times, and its sync.
 */
export type CutPoint = (typeof CUT_POINTS)[number] | "clock correction";
export type { CutRecord, Verdict } from "./verdict.js";

export interface RigOptions {
  readonly durability: "full" | "normal";
  /** Tear the unsynced writes at a cut instead of dropping them all. */
  readonly tear: boolean;
  readonly seed: number;
  /** How many gateways the rig may start fresh (first start and migration cuts each take one). */
  readonly gateways: number;
  /** `buffer.writeBehindSeconds` of the agents (0 or absent: off). */
  readonly writeBehindSeconds?: number;
  /** libfaketime's preload library, for the "clock correction" point. */
  readonly faketime?: string;
}

const CONTAINERS = ["C01", "C02", "C03"];

/**
 * The power-cut rig: the real agent (`reefer-edge run`) with its outbox on a PowerCutDisk,
 * Mosquitto with mutual TLS, a monitoring subscriber, and the agent's captured report kept on
 * the host's own disk. Each cycle powers the disk on, starts the agent, cuts (at random or at a
 * named point), kills the agent and powers the disk off; `settle` then drains every gateway
 * and checks what must hold.
 */
export class PowerCutRig {
  private readonly records: CutRecord[] = [];
  private readonly used: string[] = [];
  private gatewayIndex = 0;
  private recoveries = 0;
  private readonly failedStarts: string[] = [];
  private readonly diagnosis: string[] = [];
  private readonly random: () => number;

  private constructor(
    private readonly options: RigOptions,
    readonly temp: ReturnType<typeof makeTempDir>,
    private readonly pki: TestPki,
    private readonly broker: MosquittoBroker,
    readonly monitor: Monitor,
    private readonly proxy: FaultProxy,
  ) {
    const generator = xoroshiro128plus(options.seed);
    this.random = () => uniformFloat64(generator);
    mkdirSync(this.stateDir, { recursive: true });
    mkdirSync(this.mountpoint, { recursive: true });
    this.used.push(this.gateway);
  }

  static async start(mosquitto: string, options: RigOptions): Promise<PowerCutRig> {
    const temp = makeTempDir("reefer-edge-powercut-");
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    const names = Array.from({ length: options.gateways }, (_, i) => gatewayName(i));
    const pki = makePki(dir, [...names, MONITOR]);
    const broker = await MosquittoBroker.start(mosquitto, dir, pki);
    const monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
    const proxy = await FaultProxy.start(broker.port);
    return new PowerCutRig(options, temp, pki, broker, monitor, proxy);
  }

  async stop(): Promise<void> {
    await this.proxy.close();
    await this.monitor.close();
    await this.broker.stop();
    this.temp.cleanup();
  }

  get cuts(): readonly CutRecord[] {
    return this.records;
  }

  private get stateDir(): string {
    return join(this.temp.dir, "state");
  }

  private get mountpoint(): string {
    return join(this.temp.dir, "disk");
  }

  private get gateway(): string {
    return gatewayName(this.gatewayIndex);
  }

  private get reportPath(): string {
    return join(this.temp.dir, "captured.jsonl");
  }

  /** A gateway not used yet, with an empty folder on the disk: a first start. */
  private nextGateway(): void {
    this.gatewayIndex++;
    if (this.gatewayIndex >= this.options.gateways)
      throw new Error("the rig ran out of gateways: give it more (RigOptions.gateways)");
    this.used.push(this.gateway);
  }

  /** One power-on, the agent's start, a cut at `point`, the agent killed, the power off. */
  async cycle(point: CutPoint, options: { offline?: boolean } = {}): Promise<CutRecord> {
    if (point === "first start" || point === "new outbox in use") this.nextGateway();
    if (point === "migration") {
      this.nextGateway();
      this.seedOldOutbox();
    }
    const disk = await PowerCutDisk.mount(this.stateDir, this.mountpoint, {
      tear: this.options.tear,
      seed: Math.floor(this.random() * 2 ** 31),
    });
    // Offline (the link down for the whole cycle): what was captured can only be on the disk.
    const viaProxy = point === "acknowledgement" || options.offline === true;
    if (viaProxy) await this.proxy.down();
    const n = 1 + Math.floor(this.random() * 8);
    if (point === "capture commit") disk.arm("write", "outbox.db-wal", 4 + n * 3);
    if (point === "background sync") disk.arm("fsync", "outbox.db-wal", 2 + n);
    if (point === "first start") disk.arm("write", "*", n);
    if (point === "migration") disk.arm("write", "*", n);
    if (point === "lock") disk.arm("write", "outbox.db.lock", 1 + (n % 3));
    const before = this.monitor.readings.length;
    const startedAt = Date.now();
    let firstPublishMs: number | null = null;
    const notePublish = () => {
      if (firstPublishMs === null && this.ownSince(before)) firstPublishMs = Date.now() - startedAt;
    };
    const clockFile = join(this.temp.dir, "faketime");
    let env: NodeJS.ProcessEnv = {};
    if (point === "clock correction") {
      if (!this.options.faketime) throw new Error("the clock correction point needs faketime");
      writeFileSync(clockFile, "@1970-01-01 00:00:00");
      env = {
        LD_PRELOAD: this.options.faketime,
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      };
    }
    const agent = this.startAgent(viaProxy, env);
    // Progress, to pace the cut: readings reported captured, and under write-behind also those
    // the broker received (acknowledged before they were written, they are never reported).
    const captured = () =>
      this.capturedCount() +
      ((this.options.writeBehindSeconds ?? 0) > 0 ? this.ownDeliveredSince(before) : 0);
    const atStart = captured();
    try {
      if (point === "random" || point === "new outbox in use") {
        const want = atStart + 5 + Math.floor(this.random() * 40);
        await this.until(agent, disk, () => captured() >= want, notePublish);
        if (!disk.isCut) await disk.cut();
      } else if (point === "acknowledgement") {
        // A backlog while the link is down, then the cut among the deletes of the drain.
        await this.until(agent, disk, () => captured() >= atStart + 20, notePublish);
        disk.arm("write", "outbox.db-wal", n);
        await this.proxy.up();
      } else if (point === "clock correction") {
        // In 1970 the broker's certificate is not valid yet: readings only buffer.
        await this.until(agent, disk, () => captured() >= atStart + 10, notePublish);
        writeFileSync(clockFile, "+0"); // NTP steps the clock
        const want = captured() + Math.floor(this.random() * 6);
        await this.until(agent, disk, () => captured() >= want, notePublish);
        if (!disk.isCut) await disk.cut();
      } else if (point === "checkpoint") {
        // A graceful stop checkpoints the WAL into the database: cut in the middle of it.
        await this.until(agent, disk, () => captured() >= atStart + 10, notePublish);
        disk.arm("write", "outbox.db", n);
        agent.child.kill("SIGTERM");
      }
      await this.until(agent, disk, () => disk.isCut, notePublish, 20_000);
    } catch (error) {
      if (!(error instanceof NotReached)) throw error;
    }
    // The clock correction point is reached when the correction ran before the cut.
    const reached =
      point === "clock correction"
        ? /the wall clock is now trusted/.test(agent.stdout)
        : disk.isCut;
    if (!disk.isCut) await disk.cut();
    // Killed first: once the disk is gone no code of the agent's may run. A thread of it blocked
    // in a request the frozen disk never answers dies when the disk's daemon exits.
    agent.child.kill("SIGKILL");
    await disk.unmount();
    await agent.exited;
    // (The acknowledgement point brought the link up itself.)
    if (options.offline && point !== "acknowledgement") await this.proxy.up();
    if (/outbox database was corrupt/.test(agent.stdout)) this.recoveries++;
    const record: CutRecord = {
      point,
      cutAt: (disk.cutLine ?? "").replace(/^CUT /, ""),
      reached,
      firstPublishMs,
    };
    this.records.push(record);
    return record;
  }

  /**
   * Powers the disk on once more and runs each gateway's agent until everything it reported
   * captured has arrived, then checks the invariants.
   */
  async settle(): Promise<Verdict> {
    const disk = await PowerCutDisk.mount(this.stateDir, this.mountpoint, { seed: 1 });
    try {
      const last = this.gatewayIndex;
      for (let i = 0; i <= last; i++) {
        this.gatewayIndex = i;
        const agent = this.startAgent(false);
        const wanted = this.capturedKeys(this.gateway);
        await agent.waitForOutput(/connected to the broker/, 60_000);
        await this.until(
          agent,
          disk,
          () => [...wanted].every((k) => this.deliveredKeys().has(k)),
          () => {},
          120_000,
        ).catch((error: unknown) => {
          if (!(error instanceof NotReached)) throw error;
        });
        agent.child.kill("SIGTERM");
        const code = await agent.exited;
        if (code !== 0) this.failedStarts.push(`${this.gateway} at settle: exit ${String(code)}`);
        const missing = [...wanted].filter((k) => !this.deliveredKeys().has(k));
        if (missing.length > 0) {
          const said = agent.stdout
            .split("\n")
            .filter((l) => /"level":(40|50|60)/.test(l))
            .slice(-8);
          this.diagnosis.push(
            `${this.gateway}: ${missing.length} not delivered; the agent said:\n${said.join("\n")}`,
          );
        }
      }
    } finally {
      await disk.unmount();
    }
    return this.verdict();
  }

  private verdict(): Verdict {
    return judge({
      gateways: this.used,
      delivered: this.monitor.readings.map((r) => r.reading),
      captured: this.capturedReadings(),
      cuts: this.records,
      recoveries: this.recoveries,
      failedStarts: this.failedStarts,
      diagnosis: this.diagnosis.join("\n"),
    });
  }

  /** Waits for `done`; the agent dying by itself is a failed start; NotReached after `ms`. */
  private async until(
    agent: RunningCli,
    disk: PowerCutDisk,
    done: () => boolean,
    tick: () => void,
    ms = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      tick();
      if (done() || disk.isCut) return;
      const crash = disk.crash;
      if (crash !== null) throw new Error(`the power-cut disk died: ${crash}`);
      const exited = agent.child.exitCode ?? agent.child.signalCode;
      if (exited !== null) {
        if (exited === 0) return; // a graceful stop (the checkpoint point)
        this.failedStarts.push(
          `${this.gateway}: exit ${String(exited)}: ${agent.stderr.slice(-400)}`,
        );
        throw new NotReached();
      }
      if (Date.now() > deadline) throw new NotReached();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private startAgent(viaProxy: boolean, env: NodeJS.ProcessEnv = {}): RunningCli {
    const { cert, key } = this.pki.client(this.gateway);
    const url = viaProxy ? `mqtts://127.0.0.1:${this.proxy.port}` : this.broker.url;
    const file = join(this.temp.dir, `${this.gateway}.yaml`);
    writeFileSync(
      file,
      `version: 1
gateway: { id: ${this.gateway} }
mqtt:
  url: "${url}"
  ca: "${this.pki.caCert}"
  cert: "${cert}"
  key: "${key}"
  connectTimeoutMs: 5000
  reconnect: { initialDelayMs: 100, maxDelayMs: 1000, stableAfterMs: 5000 }
buffer: { path: "${this.outboxPath()}", durability: ${this.options.durability}, reserveKiB: 16, writeBehindSeconds: ${this.options.writeBehindSeconds ?? 0} }
sampling: { intervalMs: 100 }
containers:
${CONTAINERS.map((id, i) => `  - { id: ${id}, product: P0${i + 1}, driver: { type: simulated, seed: ${i + 1} } }`).join("\n")}
health: { enabled: false }
# The checkpoint key off the power-cut file system, which reports every file as mode 0644 (a
# key others could read is refused); the audit log itself is in the outbox, through the cuts.
audit: { keyFile: "${this.keyFileOf(this.gateway)}" }
log: { level: info }
`,
    );
    return startCli(["run", "--config", file, "--captured-report", this.reportPath], env);
  }

  private outboxPath(): string {
    return join(this.mountpoint, this.gateway, "outbox.db");
  }

  /**
   * An outbox as the previous release left it (schema 2, before the clock-epoch column), with
   * readings it had captured: on the host, in the state folder, while the disk is off.
   */
  private seedOldOutbox(): void {
    const dir = join(this.stateDir, this.gateway);
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, "outbox.db"));
    for (const [version, step] of MIGRATIONS.slice(0, 2).entries()) {
      db.exec(step);
      db.pragma(`user_version = ${version + 1}`);
    }
    const reports: string[] = [];
    const insert = db.prepare(
      "INSERT INTO outbox (lane, container_id, seq, captured_at, bytes, payload) VALUES (1, ?, ?, ?, ?, ?)",
    );
    for (const containerId of CONTAINERS) {
      for (let seq = 1; seq <= 5; seq++) {
        const reading = oldReading(this.gateway, containerId, seq);
        const payload = JSON.stringify(reading);
        insert.run(containerId, seq, Date.now(), Buffer.byteLength(payload), payload);
        reports.push(payload);
      }
      db.prepare("INSERT INTO sequences (container_id, last_seq) VALUES (?, 5)").run(containerId);
    }
    db.close();
    // The old release captured them: they must come out too.
    writeFileSync(this.reportPath, reports.map((r) => r + "\n").join(""), { flag: "a" });
  }

  private capturedCount(): number {
    if (!existsSync(this.reportPath)) return 0;
    let n = 0;
    for (const c of readFileSync(this.reportPath, "utf8")) if (c === "\n") n++;
    return n;
  }

  private capturedReadings(): [string, string][] {
    return readCapturedReport(this.reportPath);
  }

  private capturedKeys(gateway: string): Set<string> {
    return new Set(
      this.capturedReadings()
        .map(([key]) => key)
        .filter((k) => k.startsWith(`${gateway}/`)),
    );
  }

  private deliveredKeys(): Set<string> {
    return new Set(this.monitor.readings.map((r) => keyOf(r.reading)));
  }

  private ownDeliveredSince(index: number): number {
    return this.monitor.readings.slice(index).filter((r) => r.reading.gateway_id === this.gateway)
      .length;
  }

  private ownSince(index: number): boolean {
    return this.monitor.readings.slice(index).some((r) => r.reading.gateway_id === this.gateway);
  }

  /**
   * The gateways' audit logs verified from what the broker delivered (`judgeAuditLogs`): a cut
   * may leave a log's tail unsigned, never a log that looks altered.
   */
  auditLogs(): AuditLogsVerdict {
    return judgeAuditLogs(
      this.used,
      [...this.monitor.readings.map((r) => r.reading), ...this.monitor.alerts.map((a) => a.alert)],
      this.monitor.audit.map((a) => a.message),
      (gateway) => this.keyFileOf(gateway),
    );
  }

  private keyFileOf(gateway: string): string {
    return join(this.temp.dir, `${gateway}-checkpoint-key.pem`);
  }

  /** Forgets the state folder (a rig reused for the negative control starts clean). */
  wipe(): void {
    rmSync(this.stateDir, { recursive: true, force: true });
    mkdirSync(this.stateDir);
  }
}

class NotReached extends Error {}

function gatewayName(i: number): string {
  return `gw-pc-${String(i).padStart(3, "0")}`;
}

function oldReading(gatewayId: string, containerId: string, seq: number): ReeferReading {
  const at = Date.UTC(2026, 11, 1, 0, 0, seq);
  return { ...makeReading(containerId, at, { gateway_id: gatewayId, product_id: "P01" }), seq };
}
