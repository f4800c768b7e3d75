import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetReport } from "../../fleet/report.js";
import { startCli, type RunningCli } from "../support/cli.js";
import { Monitor } from "../support/monitor.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

/** Runs `reefer-edge fleet` to its end; the report is its --json line. */
async function runFleet(
  file: string,
  during?: (fleet: RunningCli) => Promise<void>,
): Promise<{ code: number | string; report: FleetReport; stderr: string }> {
  const fleet = startCli(["fleet", "--file", file, "--json"]);
  await during?.(fleet);
  const code = await fleet.exited;
  const line = fleet.stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`no report (exit ${code}):\n${fleet.stderr}`);
  return { code, report: JSON.parse(line) as FleetReport, stderr: fleet.stderr };
}

/** Seqs a gateway captured that the test's own subscriber never received. */
function missing(report: FleetReport, monitor: Monitor): string[] {
  return report.perGateway.flatMap((gateway) =>
    gateway.containers.flatMap((range) => {
      const seqs = monitor.seqs(range.id);
      const lost: string[] = [];
      for (let seq = range.first; seq <= range.last; seq++) {
        if (!seqs.has(seq)) lost.push(`${range.id}#${seq}`);
      }
      return lost;
    }),
  );
}

describe.skipIf(mosquitto.skip)("reefer-edge fleet", () => {
  const temp = makeTempDir("reefer-edge-fleet-");
  let pki: TestPki;
  let broker: MosquittoBroker;
  let monitor: Monitor;

  beforeAll(async () => {
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    pki = makePki(dir, [MONITOR]);
    chmodSync(join(dir, "test-ca.key"), 0o600);
    broker = await MosquittoBroker.start(mosquitto.path ?? "", dir, pki);
    monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
  });
  afterAll(async () => {
    await monitor.close();
    await broker.stop();
    temp.cleanup();
  });

  it(
    "1,000 gateways deliver every seq across an operator's broker restart and a partition of a tenth of them",
    { timeout: 420_000 },
    async () => {
      const file = join(temp.dir, "fleet-1000.yaml");
      writeFileSync(
        file,
        stringify({
          version: 1,
          gateways: 1000,
          idPrefix: "ci",
          dataDir: join(temp.dir, "fleet-1000"),
          // The test's CA signs the gateways' certificates, so the test's broker trusts them.
          issuer: { cert: pki.caCert, key: join(temp.dir, "broker", "test-ca.key") },
          // The test's own subscriber is the judge here, not the fleet's.
          observe: false,
          gatewaysPerWorker: 500,
          ramp: { connectsPerSecond: 200 },
          durationSeconds: 75,
          drainTimeoutSeconds: 120,
          chaos: [
            { kind: "broker-restart", atSeconds: 10, waitSeconds: 120 },
            { kind: "partition", atSeconds: 35, durationSeconds: 25, fraction: 0.1 },
          ],
          agent: {
            sampling: { intervalMs: 5000 },
            mqtt: {
              url: broker.url,
              ca: pki.caCert,
              keepaliveSeconds: 10,
              connectTimeoutMs: 5000,
              reconnect: { initialDelayMs: 3000, maxDelayMs: 10_000, stableAfterMs: 5000 },
            },
          },
        }),
      );
      const { code, report, stderr } = await runFleet(file, async (fleet) => {
        // The fleet did not start this broker: it asks the operator, who restarts it.
        await waitFor(
          "the fleet to ask for the broker's restart",
          () => fleet.stderr.includes("restart the broker now"),
          240_000,
          { detail: () => fleet.stderr.slice(-3000) },
        );
        const before = fleet.stderr.length;
        await broker.pause({ hard: false });
        // The outage lasts until the fleet reports every gateway offline:
        // a fact from its progress lines, however busy the machine is.
        await waitFor(
          "the whole fleet to report itself offline",
          () => fleet.stderr.slice(before).includes('"connected":0,"captured"'),
          120_000,
          { detail: () => fleet.stderr.slice(-3000) },
        );
        await broker.resume();
      });
      // The broker acknowledged every reading; the subscriber's queue may still be emptying.
      await monitor
        .waitFor(() => missing(report, monitor).length === 0, "every seq", 60_000)
        .catch(() => undefined);
      expect(missing(report, monitor).slice(0, 20), stderr.slice(-3000)).toEqual([]);
      expect(code).toBe(0);
      expect(report.gateways).toBe(1000);
      expect(
        report.perGateway.every((g) => g.captured >= 10 && g.acknowledged === g.captured),
      ).toBe(true);
      expect(report.backlogLeft).toBe(0);
      expect(report.evicted + report.deadLettered).toBe(0);
      const [restart, partition] = report.chaos;
      expect(restart?.kind).toBe("broker-restart");
      expect(restart?.backAfterSeconds).not.toBeNull();
      expect(partition?.kind).toBe("partition");
      expect(partition?.backAfterSeconds).not.toBeNull();
      // The cut-off tenth noticed (keep-alive) and came back: they tried to connect again.
      expect(partition?.peakConnectAttemptsPerSecond).toBeGreaterThan(0);
      // Everyone reconnected after the restart, and the partitioned ones once more.
      expect(report.reconnects).toBeGreaterThanOrEqual(1000 + 50);
      // The memory breakdown's JavaScript part comes from the same stats as the peak it is part of.
      expect(report.heapAtPeakRssBytes).toBeGreaterThan(0);
      expect(report.heapAtPeakRssBytes).toBeLessThan(report.peakRssBytes);
      console.log(
        `fleet of 1,000: ramp ${report.rampSeconds} s, ${report.captured} readings, restart: back after ` +
          `${restart?.backAfterSeconds} s (peak ${restart?.peakConnectAttemptsPerSecond} CONNECT/s, ` +
          `jitter implies ${Math.round(restart?.impliedPeakPerSecond ?? 0)}), partition: back after ${partition?.backAfterSeconds} s, ` +
          `drain ${report.drainSeconds} s, peak RSS ${Math.round(report.peakRssBytes / 2 ** 20)} MiB ` +
          `(V8's heap ${Math.round(report.heapAtPeakRssBytes / 2 ** 20)})`,
      );
    },
  );

  it(
    "starts its own broker and observer, restarts that broker, and a second run reuses certificates and outboxes",
    { timeout: 240_000 },
    async () => {
      const dataDir = join(temp.dir, "fleet-own");
      const file = join(temp.dir, "fleet-own.yaml");
      writeFileSync(
        file,
        stringify({
          version: 1,
          gateways: 40,
          idPrefix: "own",
          dataDir,
          broker: { start: "mosquitto", binary: mosquitto.path },
          gatewaysPerWorker: 20,
          durationSeconds: 15,
          chaos: [
            { kind: "broker-restart", atSeconds: 4, downSeconds: 2 },
            {
              kind: "slow-link",
              atSeconds: 8,
              durationSeconds: 5,
              fraction: 0.25,
              latencyMs: 300,
              bytesPerSecond: 4096,
            },
          ],
          agent: {
            sampling: { intervalMs: 1000 },
            mqtt: { keepaliveSeconds: 10, reconnect: { initialDelayMs: 1000, maxDelayMs: 5000 } },
          },
        }),
      );
      const first = await runFleet(file);
      expect(first.code, first.stderr.slice(-3000)).toBe(0);
      expect(first.report.observed).toBe(true);
      expect(first.report.lost).toBe(0);
      expect(first.report.received).toBeGreaterThanOrEqual(first.report.captured);
      expect(first.report.captured).toBeGreaterThanOrEqual(40 * 10);
      expect(first.report.chaos[0]?.peakBrokerConnectsPerSecond).toBeGreaterThan(0);
      // The report's chart: the broker's CONNECTs a second, whose top is the peak it names.
      const series = first.report.chaos[0]?.connectsPerSecond ?? [];
      expect(Math.max(0, ...series)).toBe(first.report.chaos[0]?.peakBrokerConnectsPerSecond);
      expect(first.report.chaos.map((c) => c.kind)).toEqual(["broker-restart", "slow-link"]);
      const certificate = join(dataDir, "certs", "own-00007.crt");
      const madeAt = statSync(certificate).mtimeMs;
      const before = first.report.perGateway.find((g) => g.id === "own-00007");

      const second = await runFleet(file);
      expect(second.code, second.stderr.slice(-3000)).toBe(0);
      expect(second.report.lost).toBe(0);
      expect(statSync(certificate).mtimeMs).toBe(madeAt);
      const after = second.report.perGateway.find((g) => g.id === "own-00007");
      // The same outbox: its seqs go on where the first run's ended.
      expect(after?.containers[0]?.first).toBe((before?.containers[0]?.last ?? 0) + 1);
    },
  );
});
