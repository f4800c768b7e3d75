import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Agent } from "../../agent/agent.js";
import { loadOrCreateCheckpointKey } from "../../agent/audit/checkpoint-key.js";
import { checkpointKeyName, readCheckpoint, verifierKey } from "../../core/audit/checkpoint.js";
import { testConfig } from "../support/agent-config.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { startCli } from "../support/cli.js";
import { captureLogs } from "../support/logs.js";
import { requireTool } from "../support/tools.js";

/**
 * The audit log end to end: a real agent captures simulated readings into its outbox, keeps the
 * log, signs checkpoints and publishes them through Mosquitto; a subscriber keeps what arrives
 * as the lake would (readings in newline-delimited JSON, the audit messages beside), and the
 * built `reefer-edge audit verify` judges the voyage, across a restart, then a tampered lake.
 */
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const GATEWAY = "gw-audit";

describe.skipIf(mosquitto.skip)(
  "the agent's audit log, verified from what the broker delivered",
  () => {
    const env = useMosquitto(mosquitto.path ?? "", [GATEWAY]);

    it(
      "a voyage over an outage and a restart verifies, its alerts listed; an edited or a deleted reading, or a deleted alert, does not",
      { timeout: 120_000 },
      async () => {
        const logs = captureLogs("info");
        const dir = mkdtempSync(join(env.temp.dir, "agent-"));
        const base = testConfig({
          url: env.agentUrl,
          dir,
          gatewayId: GATEWAY,
          ca: env.pki.caCert,
          identity: env.pki.client(GATEWAY),
          containers: 2,
          intervalMs: 100,
        });
        // C02's reefer loses power at once, so the edge raises an alert: a leaf of the log too.
        const [c01, c02] = base.containers;
        if (!c01 || c02?.driver.type !== "simulated") throw new Error("two simulated containers");
        const config = {
          ...base,
          containers: [c01, { ...c02, driver: { ...c02.driver, scenario: "power-off" as const } }],
          rules: { ...base.rules, power: { ...base.rules.power, graceSeconds: 0 } },
          audit: { ...base.audit, enabled: true, checkpointSeconds: 1 },
        };
        const { monitor } = env;
        const checkpointSizes = () =>
          monitor.audit.flatMap(({ message }) => {
            const read = readCheckpoint(String(message.note));
            return read.ok ? [read.checkpoint.size] : [];
          });
        /** A read of the outbox the agent is writing (WAL: it sees what was committed). */
        const outboxHolds = (sql: string): number => {
          const db = new Database(config.buffer.path, { readonly: true });
          try {
            return db.prepare<[], { n: number }>(sql).get()?.n ?? -1;
          } finally {
            db.close();
          }
        };
        const logSize = () =>
          outboxHolds("SELECT last_seq AS n FROM sequences WHERE container_id = '#log'");
        const checkpointsWaiting = () =>
          outboxHolds("SELECT COUNT(*) AS n FROM audit_outbox WHERE kind = 'checkpoint'");

        // Two runs of the agent on one outbox: the log goes on across the restart.
        for (const run of [1, 2]) {
          const agent = new Agent(config, { logger: logs.logger });
          agent.start();
          const captured = agent.metrics.get("readings_captured");
          await monitor.waitFor(
            () => agent.metrics.get("readings_captured") >= captured + 30,
            `30 readings captured in run ${run}`,
          );
          await monitor.waitFor(
            () => agent.metrics.get("audit_checkpoints") >= 2,
            `a checkpoint signed on the timer in run ${run}`,
          );
          if (run === 1) {
            // Offline: what is signed waits in the outbox until the broker acknowledges it.
            await env.proxy.down();
            await monitor.waitFor(() => !agent.status().connected, "the link to drop");
            await monitor.waitFor(() => checkpointsWaiting() > 0, "a checkpoint signed offline");
            await env.proxy.up();
            await monitor.waitFor(
              () => agent.status().connected && checkpointsWaiting() === 0,
              "the checkpoints signed offline acknowledged by the broker",
            );
          }
          await agent.stop(5000);
          // The stop signed a last checkpoint over everything committed; wait for its delivery.
          const size = logSize();
          await monitor.waitFor(
            () => checkpointSizes().includes(size),
            `the checkpoint of all ${size} leaves of run ${run}`,
          );
        }
        expect(logs.text()).toMatch(/made the checkpoint key of the audit log/);

        // The lake: every reading delivered (duplicates and all), and the audit messages.
        const lake = join(env.temp.dir, "lake");
        const readings = join(lake, "readings");
        const audit = join(lake, "audit");
        mkdirSync(readings, { recursive: true });
        mkdirSync(audit, { recursive: true });
        const lines = monitor.readings
          .filter(({ reading }) => reading.gateway_id === GATEWAY)
          .map(({ reading }) => JSON.stringify(reading));
        writeFileSync(
          join(audit, "part-0"),
          monitor.audit.map((a) => JSON.stringify(a.message) + "\n").join(""),
        );
        // The edge's alerts, which the cloud keeps in the ledger beside the audit messages.
        const alerts = monitor.alerts
          .filter(({ alert }) => alert.gateway_id === GATEWAY)
          .map(({ alert }) => JSON.stringify(alert));
        expect(alerts.length).toBeGreaterThan(0);
        const ledgerAlerts = (kept: readonly string[]) =>
          writeFileSync(join(audit, "alerts"), kept.map((a) => a + "\n").join(""));
        ledgerAlerts(alerts);
        const key = loadOrCreateCheckpointKey(join(dir, "checkpoint-key.pem"));
        const keys = join(lake, "keys.txt");
        writeFileSync(keys, verifierKey(checkpointKeyName(GATEWAY), key.publicKey) + "\n");
        const verify = async (records: readonly string[]) => {
          writeFileSync(join(readings, "part-0"), records.map((r) => r + "\n").join(""));
          const cli = startCli([
            "audit",
            "verify",
            "--lake",
            readings,
            "--checkpoints",
            audit,
            "--keys",
            keys,
            "--json",
          ]);
          const code = await cli.exited;
          return { code, report: JSON.parse(cli.stdout) as AuditJson, stderr: cli.stderr };
        };

        const clean = await verify(lines);
        expect(clean.stderr).toBe("");
        expect(clean.report.gateways).toHaveLength(1);
        expect(clean.report.gateways[0]).toMatchObject({
          verifiedSize: logSize(),
          missing: [],
          altered: null,
        });
        expect(clean.report.containers.map((c) => [c.containerId, c.complete, c.intact])).toEqual([
          ["C01", true, true],
          ["C02", true, true],
        ]);
        // The power-off the edge raised, listed for the auditor and proven like the readings.
        const c02Alerts = clean.report.containers[1]?.alerts ?? [];
        expect(c02Alerts.map((a) => [a.type, a.verified])).toContainEqual(["power_off", true]);
        expect(c02Alerts.every((a) => a.verified)).toBe(true);
        expect(clean.code).toBe(0);

        // An edited temperature: the roots no longer agree with the signed ones.
        const edited = lines.map((line, i) =>
          i === 10 ? line.replace(/"temperature":(-?[\d.]+)/, '"temperature":2.5') : line,
        );
        expect(edited[10]).not.toBe(lines[10]);
        const afterEdit = await verify(edited.filter((line, i) => i === 10 || line !== lines[10]));
        expect(afterEdit.code).toBe(1);
        expect(afterEdit.report.gateways[0]?.altered).not.toBeNull();

        // A deleted reading (every copy of it): a hole in the log.
        const gone = await verify(lines.filter((line) => line !== lines[10]));
        expect(gone.code).toBe(1);
        expect(gone.report.gateways[0]?.missing).toHaveLength(1);

        // A deleted alert (every copy of it): a hole in the log too, and C02 not complete.
        const removed = alerts[0] ?? "";
        ledgerAlerts(alerts.filter((a) => a !== removed));
        const noAlert = await verify(lines);
        expect(noAlert.code).toBe(1);
        const index = (JSON.parse(removed) as { log_index: number }).log_index;
        expect(noAlert.report.gateways[0]?.missing).toEqual([{ from: index, to: index + 1 }]);
      },
    );
  },
);

type AuditJson = {
  gateways: { verifiedSize: number; missing: unknown[]; altered: unknown }[];
  containers: {
    containerId: string;
    complete: boolean;
    intact: boolean;
    alerts: { type: string; verified: boolean }[];
  }[];
};
