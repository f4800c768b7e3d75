import Database from "better-sqlite3";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { validateConfig } from "../../config/load.js";
import { Agent } from "../../agent/agent.js";
import { startEmbeddedBroker } from "../../commands/demo/broker.js";
import { readDeviceWear } from "../../agent/storage/device-wear.js";
import { makeReading } from "../support/readings.js";
import { makeTempDir } from "../support/tmp.js";
import { formatResults, type BenchResult } from "./report.js";

/**
 * `npm run bench:wear [-- --seconds S]` (root): what the outbox writes to the flash per reading
 * in the steady state (after a warm-up: a start's own writes left out), counted by the kernel at
 * the block device (WAL, checkpoints and the ext4 journal included),
 * each case on its own loop-mounted ext4 and all at once, beside a logger that commits each
 * reading on its own in SQLite's default mode (how most hobby loggers write), in the same run.
 */
const { values } = parseArgs({ options: { seconds: { type: "string", default: "120" } } });
const seconds = Number(values.seconds);
if (process.getuid?.() !== 0) {
  process.stderr.write("bench:wear needs root (it loop-mounts ext4 file systems)\n");
  process.exit(2);
}
const temp = makeTempDir("reefer-edge-wear-");
const mounts: { loop: string; mnt: string }[] = [];

/** A fresh 256 MiB ext4 on a loop device, mounted as a gateway's would be. */
function card(name: string): { loop: string; mnt: string; bytes: () => number } {
  const image = join(temp.dir, `${name}.img`);
  execFileSync("truncate", ["-s", "256M", image]);
  execFileSync("mkfs.ext4", ["-q", image]);
  const loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
  const mnt = join(temp.dir, name);
  mkdirSync(mnt);
  execFileSync("mount", [loop, mnt]);
  mounts.push({ loop, mnt });
  return { loop, mnt, bytes: () => readDeviceWear(mnt)?.bytesWritten ?? Number.NaN };
}

interface Case {
  readonly name: string;
  readonly containers: number;
  readonly intervalMs: number;
  readonly online: boolean;
  /** `buffer.writeBehindSeconds` (0: every reading committed before it is published). */
  readonly writeBehindSeconds: number;
  /** The cold-chain audit log (`audit.enabled`; on in these cases unless said). */
  readonly audit?: boolean;
}

const CASES: Case[] = [
  { name: "4 containers × 1 Hz, online", containers: 4, intervalMs: 1000, online: true },
  { name: "4 containers × 1 Hz, offline", containers: 4, intervalMs: 1000, online: false },
  { name: "1 container every 10 s, online", containers: 1, intervalMs: 10_000, online: true },
].flatMap((c) => [
  { ...c, writeBehindSeconds: 0 },
  { ...c, name: `${c.name}, write-behind 5 s`, writeBehindSeconds: 5 },
  ...(c.online ? [] : [{ ...c, name: `${c.name}, write-behind 30 s`, writeBehindSeconds: 30 }]),
  // What the audit log's range adds to each commit: the same case without it.
  ...(c.containers === 4 && c.online
    ? [{ ...c, name: `${c.name}, no audit log`, writeBehindSeconds: 0, audit: false }]
    : []),
]);

/** The agent on its card; resolves with bytes written per reading captured. */
async function agentCase(c: Case, brokerUrl: string): Promise<number> {
  const disk = card(c.name.replace(/[^a-z0-9]+/gi, "-"));
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-wear" },
      mqtt: {
        url: c.online ? brokerUrl : "mqtt://127.0.0.1:9",
        protocolVersion: 4,
        reconnect: { initialDelayMs: 1000, maxDelayMs: 5000, stableAfterMs: 5000 },
      },
      buffer: { path: join(disk.mnt, "outbox.db"), writeBehindSeconds: c.writeBehindSeconds },
      sampling: { intervalMs: c.intervalMs },
      containers: Array.from({ length: c.containers }, (_, i) => ({
        id: `C0${i + 1}`,
        product: "P01",
        driver: { type: "simulated", seed: i + 1 },
      })),
      health: { enabled: false },
      audit: { enabled: c.audit ?? true },
    },
    "bench:wear",
  );
  const agent = new Agent(config, { logger: pino({ level: "silent" }) });
  let captured = 0;
  agent.events.on("captured", (readings) => (captured += readings.length));
  agent.start();
  // The steady state: what a start writes once (a new database, the full-disk reserve file,
  // the first seq reservations) is left out, after a warm-up of two readings' time.
  await new Promise((resolve) => setTimeout(resolve, 2 * c.intervalMs + 1000));
  spawnSync("sync");
  const before = disk.bytes();
  captured = 0;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  spawnSync("sync");
  const perReading = (disk.bytes() - before) / captured;
  await agent.stop();
  return perReading;
}

/** The baseline: each reading its own transaction, SQLite's defaults (rollback journal, FULL). */
async function naiveCase(c: Case): Promise<number> {
  const disk = card(`naive-${c.name.replace(/[^a-z0-9]+/gi, "-")}`);
  spawnSync("sync");
  const before = disk.bytes();
  const db = new Database(join(disk.mnt, "log.db"));
  db.exec("CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO readings (payload) VALUES (?)");
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < c.containers; i++) {
      insert.run(JSON.stringify({ ...makeReading(`C0${i + 1}`, Date.now()), seq: ++n }));
    }
  }, c.intervalMs);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  db.close();
  spawnSync("sync");
  return (disk.bytes() - before) / n;
}

const broker = await startEmbeddedBroker();
try {
  process.stdout.write(
    `reefer-edge flash wear: ${seconds} s a case, every case at once, node ${process.version}, ${new Date().toISOString()}\n`,
  );
  const runs = CASES.map(async (c) => {
    const [agent, naive] = await Promise.all([agentCase(c, broker.url), naiveCase(c)]);
    return { c, agent, naive };
  });
  const results: BenchResult[] = (await Promise.all(runs)).map(({ c, agent, naive }) => ({
    name: `bytes written to the device per reading, ${c.name}`,
    unit: "B",
    value: agent,
    baselineName: "a commit per reading",
    baseline: naive,
    target: c.name.startsWith("4 containers × 1 Hz") ? "≤ 300 B" : "—",
    ...(c.name.startsWith("4 containers × 1 Hz") && { targetValue: 300 }),
    lowerIsBetter: true,
  }));
  process.stdout.write(formatResults(results) + "\n");
} finally {
  await broker.close();
  for (const { loop, mnt } of mounts) {
    spawnSync("umount", [mnt]);
    spawnSync("losetup", ["-d", loop]);
  }
  temp.cleanup();
}
