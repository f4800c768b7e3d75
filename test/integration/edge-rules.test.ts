import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { validateConfig } from "../../config/load.js";
import { captureLogs } from "../support/logs.js";
import { agentMqtt, useMosquitto } from "../support/broker-fixture.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

describe.skipIf(mosquitto.skip)("edge rules end to end, against Mosquitto", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-0001", "gw-0003"]);

  function agentFor(gatewayId: string, containers: unknown[], rules: unknown = {}) {
    const config = validateConfig(
      {
        version: 1,
        gateway: { id: gatewayId },
        mqtt: agentMqtt(env, gatewayId),
        buffer: { path: join(mkdtempSync(join(env.temp.dir, "agent-")), "outbox.db") },
        sampling: { intervalMs: 100 },
        containers,
        rules,
      },
      "test",
    );
    return new Agent(config, { logger: captureLogs("warn").logger });
  }

  it(
    "publishes the alerts raised offline before the backlog when the link returns",
    { timeout: 60_000 },
    async () => {
      await env.proxy.down();
      const agent = agentFor(
        "gw-0001",
        [
          {
            id: "HOT",
            product: "P05",
            driver: { type: "simulated", scenario: "temperature-rising", timeScale: 600, seed: 1 },
          },
          { id: "OK", product: "P02", driver: { type: "simulated", seed: 2, timeScale: 600 } },
        ],
        { window: { seconds: 1, allowedLatenessSeconds: 0 } },
      );
      agent.start();
      try {
        await env.monitor.waitFor(
          () => agent.status().outbox.alerts >= 3 && agent.status().outbox.telemetry > 50,
          "alerts and a backlog captured while offline",
        );
        const queuedAlerts = agent.status().outbox.alerts;
        const seen = env.monitor.topics.length;
        await env.proxy.up();
        await env.monitor.waitFor(
          () => agent.status().outbox.telemetry < 10 && agent.status().connected,
          "the drain",
        );
        const after = env.monitor.topics
          .slice(seen)
          .filter((t) => t.startsWith("dt/reefer/gw-0001/"));
        const firstBackfill = after.findIndex((t) => t.endsWith("/backfill"));
        const alertsBefore = after
          .slice(0, firstBackfill)
          .filter((t) => t.endsWith("/alert")).length;
        expect(firstBackfill).toBeGreaterThan(0);
        expect(alertsBefore).toBeGreaterThanOrEqual(queuedAlerts);
        expect(after.slice(0, queuedAlerts).every((t) => t.endsWith("/alert"))).toBe(true);
      } finally {
        await agent.stop(1000);
      }
    },
  );

  it(
    "report by exception sends a stable reefer's readings sparingly, but every reading of a window over the threshold",
    { timeout: 60_000 },
    async () => {
      const rbe = { maxSilenceSeconds: 5 };
      const agent = agentFor(
        "gw-0003",
        [
          {
            id: "STABLE",
            product: "P02",
            reportByException: rbe,
            driver: { type: "simulated", seed: 4, timeScale: 1 },
          },
          { id: "ALL", product: "P02", driver: { type: "simulated", seed: 4, timeScale: 1 } },
          {
            id: "HOT",
            product: "P05",
            reportByException: rbe,
            driver: { type: "simulated", scenario: "temperature-rising", timeScale: 300, seed: 5 },
          },
        ],
        { window: { seconds: 1, allowedLatenessSeconds: 0 } },
      );
      const received = (id: string) =>
        env.monitor.readings.filter(
          (r) => r.reading.gateway_id === "gw-0003" && r.reading.container_id === id,
        );
      agent.start();
      // Long enough that the hot reefer's window went over its threshold and stayed there for
      // 25 readings, and the others sent 80: counted, not timed.
      await env.monitor.waitFor(
        () => {
          const hot = received("HOT").map((r) => r.reading);
          const over = hot.filter((r) => (r.temperature ?? 0) > 18).map((r) => r.seq);
          const last = Math.max(0, ...hot.map((r) => r.seq));
          return received("ALL").length >= 80 && over.length > 0 && last > Math.min(...over) + 25;
        },
        "80 readings of ALL and 25 of HOT past its threshold",
        60_000,
      );
      await agent.stop(2000);
      const stable = received("STABLE").length;
      const all = received("ALL").length;
      expect(all).toBeGreaterThan(60);
      expect(stable).toBeLessThan(all / 4);
      expect(agent.metrics.get("dropped_by_exception", { container: "STABLE" })).toBeGreaterThan(
        40,
      );

      // Every reading from the first window over the threshold on is published: no gap in seq.
      const hot = received("HOT").map((r) => r.reading);
      const firstOver = Math.min(...hot.filter((r) => (r.temperature ?? 0) > 18).map((r) => r.seq));
      const seqs = new Set(hot.map((r) => r.seq));
      const last = Math.max(...seqs);
      const gaps = [];
      for (let seq = firstOver; seq <= last; seq++) if (!seqs.has(seq)) gaps.push(seq);
      expect(firstOver).toBeLessThan(last - 20);
      expect(gaps).toEqual([]);
    },
  );
});
