import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { ensureIdentity } from "../../fleet/certificates.js";
import { gatewayId, identityFiles, parseFleet } from "../../fleet/fleet-file.js";
import { fleetIssuer, startOwnBroker } from "../../fleet/fleet-services.js";
import type { FleetReport } from "../../fleet/report.js";
import { CLI } from "../support/cli.js";
import { makeTempDir } from "../support/tmp.js";
import { findTool } from "../support/tools.js";
import { formatResults, type BenchResult } from "./report.js";

/**
 * `npm run bench:fleet`: the fleet simulator against its baseline in the same run. The baseline
 * is a plain MQTT.js process holding the same mTLS connections (same ids and certificates, same
 * Mosquitto) with nothing else; then the fleet runs N real agents for S seconds at 1 reading /
 * 10 s and reports what it delivered, its ramp, memory and CPU. A third process opens N outboxes
 * alone, to break the per-gateway memory down. `--gateways 10000 --seconds 300` is the issue's
 * figure; the defaults are a shorter 2,000-gateway run. `--connect-budget` is the account's
 * CONNECTs a second the fleet reconnects under (default 500, AWS IoT's largest regions; 100
 * elsewhere); the restart's line says whether every gateway was back within #26's bound. `--release crash|good` replaces the broker
 * restart with a release rolled out to the fleet (AWS IoT's rollout at 100 a minute, doubling per
 * 100 succeeded; cancelled at 5 % failed of at least 100 notified) and prints its reach and the
 * way back. `--disk-busy` runs the fleet a second time with a `dd` writing 2 GB to the same disk
 * from the fleet's start (O_DIRECT, so it reaches the device), and reports that ramp beside the
 * quiet one: a slow disk holds the durable commits, so it shows in the ramp first.
 */
const { values } = parseArgs({
  options: {
    gateways: { type: "string", default: "2000" },
    seconds: { type: "string", default: "120" },
    rate: { type: "string", default: "200" },
    "connect-budget": { type: "string", default: "500" },
    release: { type: "string" },
    "disk-busy": { type: "boolean", default: false },
  },
});
const diskBusy = values["disk-busy"];
const release = values.release;
if (release !== undefined && release !== "crash" && release !== "good")
  throw new Error(`--release: crash or good, not ${release}`);
const gateways = Number(values.gateways);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
/** The account's connect budget the fleet reconnects under (AWS IoT: 500/s or 100/s by region). */
const connectBudget = Number(values["connect-budget"]);
/** #26's bound for every gateway back after a broker restart: 1.2 × gateways / budget + 10 s. */
const backWithinSeconds = (1.2 * gateways) / connectBudget + 10;
const mosquitto = findTool("mosquitto");
if (!mosquitto) throw new Error("mosquitto is needed: apt-get install mosquitto");
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const say = (text: string) => process.stdout.write(`${text}\n`);
const temp = makeTempDir("reefer-edge-bench-fleet-");
const dataDir = join(temp.dir, "fleet");
const certDir = join(dataDir, "certs");
const prefix = "bench";

function runChild(args: string[], onLine: (line: string) => boolean): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split("\n").slice(0, -1)) {
        if (onLine(line)) {
          resolve(
            () =>
              new Promise<void>((done) => {
                if (child.exitCode !== null) {
                  done();
                  return;
                }
                child.once("exit", () => done());
                child.kill("SIGTERM");
              }),
          );
        }
      }
      buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
}

/** Runs the fleet file to its end; its JSON report. */
async function runFleet(file: string): Promise<FleetReport> {
  let report: FleetReport | null = null;
  const stop = await runChild([CLI, "fleet", "--file", file, "--json"], (line) => {
    if (!line.startsWith("{")) return false;
    report = JSON.parse(line) as FleetReport;
    return true;
  });
  await stop();
  const fleet = report as FleetReport | null;
  if (!fleet) throw new Error("the fleet printed no report");
  return fleet;
}

/**
 * `work` with dd writing 2 GB beside it from the start, on the disk the fleet's outboxes are on;
 * what the dd did (its time and rate, or that it was still writing when the work ended).
 */
async function besideBusyDisk<T>(work: () => Promise<T>): Promise<{ report: T; dd: string }> {
  const target = join(temp.dir, "busy.img");
  const began = performance.now();
  // Set by the exit handler: an object, so the compiler does not narrow it to its first value.
  const finished: { at: number | null } = { at: null };
  const dd = spawn(
    "dd",
    ["if=/dev/zero", `of=${target}`, "bs=1M", "count=2048", "oflag=direct", "status=none"],
    { stdio: "ignore" },
  );
  const exited = new Promise<number | null>((resolve) =>
    dd.once("exit", (code) => {
      finished.at = performance.now();
      resolve(code);
    }),
  );
  try {
    const report = await work();
    const took = finished.at === null ? null : (finished.at - began) / 1000;
    return {
      report,
      dd:
        took === null
          ? "2 GB and was still writing when the fleet ended"
          : `2 GB in ${took.toFixed(1)} s (${(2048 / took).toFixed(0)} MB/s)`,
    };
  } finally {
    if (finished.at === null) dd.kill("SIGKILL");
    const code = await exited;
    if (code !== 0 && code !== null) say(`dd exited ${code}`);
  }
}

try {
  say(
    `reefer-edge fleet benchmark: ${gateways} gateways, ${seconds} s, node ${process.version}, ${new Date().toISOString()}`,
  );
  // The fleet file the run uses; certificates first (timed), cached for the fleet run after.
  const raw = {
    version: 1,
    gateways,
    idPrefix: prefix,
    dataDir,
    broker: { start: "mosquitto", binary: mosquitto },
    ramp: { connectsPerSecond: rate },
    durationSeconds: seconds,
    drainTimeoutSeconds: 300,
    // The broker restarts two thirds into the run: every gateway must come back within the
    // fleet's connect window (gateways / (0.8 × the connect budget)), under the budget.
    chaos: [
      release
        ? {
            kind: "release",
            atSeconds: 10,
            version: "9.0.0",
            behaviour: release,
            soakSeconds: 30,
            rollout: { baseRatePerMinute: 100, incrementFactor: 2, succeededToIncrease: 100 },
            abort: { failedPercent: 5, minExecuted: 100 },
            waitSeconds: 3600,
          }
        : { kind: "broker-restart", atSeconds: Math.round((seconds * 2) / 3), downSeconds: 5 },
    ],
    agent: {
      // A rehearsal's gateways install when told (an excursion would hold one an hour).
      ...(release && { update: { deferMaxMinutes: 0 } }),
      sampling: { intervalMs: 10_000 },
      mqtt: {
        keepaliveSeconds: 60,
        // The fleet's size is its connect budget's fleetSize (the fleet file sets it); the first
        // delay is the default, so the connect window alone spreads the fleet.
        reconnect: { connectsPerSecond: connectBudget, maxDelayMs: 120_000, stableAfterMs: 60_000 },
      },
      log: { level: "warn" },
    },
  };
  const fleetConfig = parseFleet(raw, "bench fleet", temp.dir);
  const issuer = await fleetIssuer(fleetConfig);
  const certsBegan = performance.now();
  for (let i = 0; i < gateways; i++) {
    const id = gatewayId(fleetConfig, i);
    await ensureIdentity(issuer.issuer, id, identityFiles(fleetConfig, id));
  }
  const certMs = (performance.now() - certsBegan) / gateways;
  say(`certificates: ${certMs.toFixed(2)} ms each (in-process EC P-256)`);
  // Each part starts on a disk with nothing left to write back: the certificates (and below,
  // the outboxes opened for the breakdown) would otherwise be flushed during the next part's
  // ramp, and the fleet's durable commits wait on the disk (BENCHMARKS.md, the fleet).
  execFileSync("sync");
  const broker = await startOwnBroker(fleetConfig, issuer, join(temp.dir, "baseline-broker"));
  let baseline = { connected: 0, seconds: 0, rssBytes: 0 };
  const stopBaseline = await runChild(
    [
      here("./fleet-baseline.js"),
      broker.url,
      issuer.cert,
      certDir,
      prefix,
      String(gateways),
      "200",
    ],
    (line) => {
      baseline = JSON.parse(line) as typeof baseline;
      return true;
    },
  );
  await stopBaseline();
  await broker.stop();
  say(
    `baseline: ${baseline.connected} MQTT.js mTLS connections in ${baseline.seconds.toFixed(1)} s, ${(baseline.rssBytes / 2 ** 20).toFixed(0)} MiB RSS`,
  );

  const handlesDir = join(temp.dir, "handles");
  mkdirSync(handlesDir);
  const handleCount = Math.min(gateways, 2000);
  let handles = { rssBytesEach: 0, fdsEach: 0 };
  await runChild(
    ["--expose-gc", here("./outbox-handles.js"), handlesDir, String(handleCount)],
    (line) => {
      handles = JSON.parse(line) as typeof handles;
      return true;
    },
  );

  execFileSync("sync");
  const file = join(temp.dir, "fleet.yaml");
  writeFileSync(file, stringify(raw));
  const fleet = await runFleet(file);
  // The same fleet again (its outboxes as the first run left them) with the disk kept busy.
  const busy = diskBusy ? await besideBusyDisk(() => runFleet(file)) : null;
  const each = (bytes: number) => bytes / gateways / 2 ** 20;
  const results: BenchResult[] = [
    {
      name: `ramp: ${gateways} gateways connected`,
      unit: "s",
      value: fleet.rampSeconds ?? Number.NaN,
      baselineName: "plain MQTT.js",
      baseline: baseline.seconds,
      target: "within 60 s of the baseline",
      note: `configured ramp ${rate}/s: ${(gateways / rate).toFixed(0)} s at best`,
    },
    ...(busy
      ? [
          {
            name: `ramp with a 2 GB dd beside it: ${gateways} gateways connected`,
            unit: "s",
            value: busy.report.rampSeconds ?? Number.NaN,
            baselineName: "plain MQTT.js",
            baseline: baseline.seconds,
            target: "within 60 s of the baseline",
            note: `the dd wrote ${busy.dd}; the quiet ramp ${fleet.rampSeconds?.toFixed(1) ?? "?"} s`,
          },
        ]
      : []),
    {
      name: "RSS per gateway",
      unit: "MiB",
      value: each(fleet.peakRssBytes),
      baselineName: "an MQTT.js mTLS client",
      baseline: each(baseline.rssBytes),
      target: "fleet total ≤ 5 GB at 10,000 (aim 2.5)",
      lowerIsBetter: true,
      note: memoryBreakdown(fleet, handles, gateways),
    },
  ];
  say("");
  say(formatResults(results));
  const cpuPerReading = (fleet.workerCpuSeconds * 1000) / Math.max(1, fleet.captured);
  say("");
  say(
    `delivered: ${fleet.captured} captured, ${fleet.received} received, lost ${fleet.lost}, duplicates ${fleet.duplicates}, backlog left ${fleet.backlogLeft}, drain ${fleet.drainSeconds} s`,
  );
  say(
    `CPU: ${fleet.workerCpuSeconds.toFixed(0)} s over the run, ${cpuPerReading.toFixed(2)} ms per reading captured (certificates, ramp and drain included)`,
  );
  const steady = fleet.steadyCpu;
  say(
    steady
      ? `CPU in steady state: ${steady.msPerReading.toFixed(2)} ms a reading (target ≤ 0.75), ${steady.systemMsPerReading.toFixed(2)} ms of it in the kernel, ${steady.readings} readings over ${steady.seconds.toFixed(0)} s after the ramp and before the first chaos event`
      : "CPU in steady state: no window between the ramp and the first chaos event",
  );
  for (const c of fleet.chaos) {
    say(
      `${c.kind} at ${c.atSeconds.toFixed(0)} s (down ${c.faultSeconds.toFixed(0)} s): every gateway back after ` +
        `${c.backAfterSeconds?.toFixed(1) ?? "never"} s; peak CONNECTs/s: ${c.peakConnectAttemptsPerSecond} sent, ` +
        `${c.peakBrokerConnectsPerSecond ?? "?"} accepted by the broker, ${Math.round(c.impliedPeakPerSecond)} implied by the jitter`,
    );
    if (c.kind !== "broker-restart") continue;
    const peak = c.peakBrokerConnectsPerSecond ?? c.peakConnectAttemptsPerSecond;
    const withinBound = c.backAfterSeconds !== null && c.backAfterSeconds <= backWithinSeconds;
    say(
      `  connect budget ${connectBudget}/s: back within 1.2 × ${gateways} / ${connectBudget} + 10 = ` +
        `${backWithinSeconds.toFixed(1)} s: ${withinBound ? "yes" : "NO"}; peak ${peak} at or under ` +
        `${connectBudget} in every second: ${peak <= connectBudget ? "yes" : "NO"}`,
    );
  }
  for (const r of fleet.chaos.flatMap((c) => (c.release ? [c.release] : []))) {
    say(
      `release ${r.version} (${r.behaviour}): notified ${r.notified} of ${r.gateways}, installed on ${r.exposed} ` +
        `(${r.exposedPercent} % of the fleet; target ≤ 1.5 % for a bad one), ` +
        `${r.abortedAfterSeconds === null ? "not aborted" : `aborted after ${r.abortedAfterSeconds.toFixed(1)} s`}; ` +
        `${r.succeeded} succeeded, ${r.failed} failed, ${r.canceled} cancelled; ${r.rolledBack} rolled back by ` +
        `themselves, the slowest ${r.slowestRollbackSeconds.toFixed(1)} s after its install; ` +
        `all ended after ${r.endedAfterSeconds?.toFixed(1) ?? "never"} s`,
    );
  }
  say(`certificates: ${certMs.toFixed(2)} ms each`);
} finally {
  temp.cleanup();
}

/**
 * Where a gateway's bytes go, at the workers' peak: V8's committed heap (the agent's objects,
 * MQTT.js's and the modules' code, shared by a worker's gateways), an outbox handle as measured
 * alone (SQLite's connection: page cache, statements, its fixed 47 KiB lookaside), and the rest,
 * native: sockets, TLS contexts (about 30 KiB each) and buffers, libuv, the allocator's slack.
 */
function memoryBreakdown(
  fleet: { peakRssBytes: number; heapAtPeakRssBytes: number },
  handles: { rssBytesEach: number; fdsEach: number },
  gateways: number,
): string {
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
  const heap = fleet.heapAtPeakRssBytes / gateways;
  const rest = fleet.peakRssBytes / gateways - heap - handles.rssBytesEach;
  return (
    `total ${(fleet.peakRssBytes / 2 ** 30).toFixed(2)} GiB; of a gateway: V8's heap ${mib(heap)} MiB, ` +
    `outbox handle ${mib(handles.rssBytesEach)} MiB and ${handles.fdsEach.toFixed(1)} descriptors, ` +
    `the rest ${mib(rest)} MiB (sockets, TLS contexts and buffers, the allocator)`
  );
}
