import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI } from "../support/cli.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import type { TestPki } from "../support/pki.js";
import type { BenchResult } from "./report.js";

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

function agentConfig(
  dir: string,
  name: string,
  broker: MosquittoBroker,
  pki: TestPki,
  containers: number,
  intervalMs: number,
): string {
  const { cert, key } = pki.client("gw-0001");
  const list = Array.from(
    { length: containers },
    (_, i) =>
      `  - { id: C${i}, product: P0${(i % 5) + 1}, driver: { type: simulated, seed: ${i + 1} } }`,
  );
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "version: 1",
      "gateway: { id: gw-0001 }",
      `mqtt: { url: "${broker.url}", ca: "${pki.caCert}", cert: "${cert}", key: "${key}", reconnect: { maxDelayMs: 5000 } }`,
      `buffer: { path: "${join(dir, `${name}.db`)}" }`,
      `sampling: { intervalMs: ${intervalMs} }`,
      "containers:",
      ...list,
      "log: { level: warn }",
      "",
    ].join("\n"),
  );
  return file;
}

/** Median RSS over `samples` one-second samples. */
async function steadyRss(pid: number, samples: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(1000);
    values.push(rssMiB(pid));
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? Number.NaN;
}

export async function benchRss(
  dir: string,
  broker: MosquittoBroker,
  pki: TestPki,
): Promise<BenchResult> {
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const agent = spawn(
    process.execPath,
    [CLI, "run", "--config", agentConfig(dir, "rss", broker, pki, 4, 1000)],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  await sleep(10_000); // warm up: JIT, first connection
  const [bareRss, agentRss] = await Promise.all([
    steadyRss(bare.pid ?? 0, 20),
    steadyRss(agent.pid ?? 0, 20),
  ]);
  await Promise.all([stop(bare), stop(agent)]);
  return {
    name: "agent RSS, 4 containers at 1 Hz",
    unit: "MiB",
    value: agentRss,
    baselineName: "bare node",
    baseline: bareRss,
    target: "≤ bare + 30 MiB",
    note: `difference ${(agentRss - bareRss).toFixed(1)} MiB (target ≤ 30)`,
  };
}

/** RSS of an agent capturing 200 readings/s while the broker is down for `outageSeconds`. */
export async function benchOutageRss(
  dir: string,
  broker: MosquittoBroker,
  pki: TestPki,
  outageSeconds: number,
): Promise<BenchResult> {
  const agent = spawn(
    process.execPath,
    [CLI, "run", "--config", agentConfig(dir, "outage", broker, pki, 20, 100)],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  await sleep(10_000);
  await broker.pause();
  // V8 sizes its committed heap and SQLite fills its page cache during the first minute or so of
  // capturing into a growing outbox (measured: the heap after each mark-compact stays at ~20 MB);
  // flat means flat after that warm-up.
  const warmUp = Math.min(90, Math.floor(outageSeconds / 3));
  await sleep(warmUp * 1000);
  const start = rssMiB(agent.pid ?? 0);
  const samples: number[] = [];
  for (let t = warmUp; t < outageSeconds; t += 5) {
    await sleep(5000);
    samples.push(rssMiB(agent.pid ?? 0));
  }
  await broker.resume();
  await stop(agent);
  const max = Math.max(start, ...samples);
  const min = Math.min(start, ...samples);
  // A leak is a trend, a GC cycle is a wave: the least-squares slope tells them apart.
  const n = samples.length;
  const meanX = (n - 1) / 2;
  const meanY = samples.reduce((a, b) => a + b, 0) / Math.max(1, n);
  let num = 0;
  let den = 0;
  samples.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  const slopePerMinute = den === 0 ? 0 : (num / den) * 12; // a sample every 5 s
  return {
    name: `agent RSS across a ${outageSeconds} s broker outage at 200 readings/s`,
    unit: "MiB",
    value: samples[samples.length - 1] ?? start,
    baselineName: `RSS ${warmUp} s into the outage`,
    baseline: start,
    target: "flat: within ±5 MiB",
    note: `min ${min.toFixed(1)} MiB, max ${max.toFixed(1)} MiB, spread ${(max - min).toFixed(1)} MiB (target: within ±5 of the middle, a 10 MiB band); trend ${slopePerMinute.toFixed(2)} MiB/min; samples every 5 s: ${samples.map((v) => v.toFixed(0)).join(" ")}`,
  };
}
