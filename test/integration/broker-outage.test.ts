import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { testConfig } from "../support/agent-config.js";
import { captureLogs } from "../support/logs.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
/** The outage lasts this many captured readings: 15 s at 3 containers × 10 Hz, counted, not timed. */
const OUTAGE_READINGS = 450;

describe.skipIf(mosquitto.skip)("a broker outage of 450 readings while sampling fast", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-0001"]);

  it(
    "loses no reading: every seq of every container arrives afterwards",
    { timeout: 120_000 },
    async () => {
      const logs = captureLogs("info");
      const config = testConfig({
        url: env.agentUrl,
        dir: mkdtempSync(join(env.temp.dir, "agent-")),
        gatewayId: "gw-0001",
        ca: env.pki.caCert,
        identity: env.pki.client("gw-0001"),
        containers: 3,
        intervalMs: 100,
      });
      const agent = new Agent(config, { logger: logs.logger });
      agent.start();
      const containers = ["C01", "C02", "C03"];
      await env.monitor.waitFor(
        () => containers.every((c) => env.monitor.seqs(c).size >= 10),
        "live readings",
      );

      // The broker becomes unreachable to the agent: its connection is cut and new ones refused,
      // at a proxy, while the monitor stays connected to the broker itself. (Restarting the broker
      // under the monitor made the observer miss, under CI load, readings the broker had
      // acknowledged to the agent: a loss that was not the agent's.)
      await env.proxy.down();
      const capturedBefore = agent.metrics.get("readings_captured");
      await env.monitor.waitFor(
        () => agent.metrics.get("readings_captured") - capturedBefore >= OUTAGE_READINGS,
        `${OUTAGE_READINGS} readings captured while the broker is away`,
        120_000,
      );
      const duringOutage = agent.metrics.get("readings_captured") - capturedBefore;
      expect(agent.status().connected).toBe(false);
      expect(agent.status().outbox.telemetry).toBeGreaterThan(200);
      await env.proxy.up();

      // Let it run a little on the restored link, then stop sampling and drain.
      await env.monitor.waitFor(() => agent.status().connected, "reconnection", 15_000);
      const capturedOnline = agent.metrics.get("readings_captured");
      await env.monitor.waitFor(
        () => agent.metrics.get("readings_captured") >= capturedOnline + 30,
        "30 readings captured on the restored link",
      );
      await env.monitor.waitFor(
        () => agent.status().outbox.telemetry < 50,
        "the backlog to drain",
        60_000,
      );
      await agent.stop(5000);

      // Every seq the outbox ever assigned was received, or is still in the outbox for the next start.
      const db = new Database(config.buffer.path, { readonly: true });
      const lastSeq = new Map(
        db
          .prepare<[], { container_id: string; last_seq: number }>(
            "SELECT container_id, last_seq FROM sequences WHERE container_id NOT LIKE '#%'", // not the audit log's row
          )
          .all()
          .map((r) => [r.container_id, r.last_seq]),
      );
      const buffered = new Set(
        db
          .prepare<[], { k: string }>(
            "SELECT container_id || '#' || seq AS k FROM outbox WHERE lane = 1",
          )
          .all()
          .map((r) => r.k),
      );
      db.close();
      const missing: string[] = [];
      let received = 0;
      for (const container of containers) {
        const seqs = env.monitor.seqs(container);
        received += seqs.size;
        for (let seq = 1; seq <= (lastSeq.get(container) ?? 0); seq++) {
          if (!seqs.has(seq) && !buffered.has(`${container}#${seq}`))
            missing.push(`${container}#${seq}`);
        }
      }
      const backfilled = env.monitor.topics.filter((t) => t.endsWith("/backfill")).length;
      console.log(
        `outage of ${OUTAGE_READINGS} readings: ${duringOutage} readings captured during it, ${received} received, ` +
          `${missing.length} missing, ${env.monitor.duplicates} duplicates, ${backfilled} backfill envelopes`,
      );
      expect(missing).toEqual([]);
      expect(duringOutage).toBeGreaterThan(200);
      expect(backfilled).toBeGreaterThan(0);
      // At-least-once: duplicates come only from messages in flight when the link dropped.
      expect(env.monitor.duplicates).toBeLessThanOrEqual(config.mqtt.maxInflight);
      expect(received + buffered.size).toBe(agent.metrics.get("readings_captured"));
    },
  );
});
