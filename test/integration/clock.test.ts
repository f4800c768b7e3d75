import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import type { Clock } from "../../core/clock.js";
import { testConfig } from "../support/agent-config.js";
import { captureLogs } from "../support/logs.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

describe.skipIf(mosquitto.skip)("a gateway that boots with its clock in 1970", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-0001"]);

  it(
    "stamps its readings unsynced, then corrects those still buffered once NTP sets the clock",
    { timeout: 60_000 },
    async () => {
      // Wall time = monotonic time + an offset that starts at the epoch, as on a Pi without RTC.
      let offset = -performance.now();
      const clock: Clock = {
        now: () => performance.now() + offset,
        monotonic: () => performance.now(),
      };
      await env.proxy.down(); // no link until the clock is fixed: readings stay buffered
      const config = testConfig({
        url: env.agentUrl,
        dir: mkdtempSync(join(env.temp.dir, "agent-")),
        gatewayId: "gw-0001",
        ca: env.pki.caCert,
        identity: env.pki.client("gw-0001"),
        containers: 2,
        intervalMs: 200,
      });
      const logs = captureLogs("info");
      const agent = new Agent(config, { logger: logs.logger, clock });
      agent.start();
      try {
        await env.monitor.waitFor(
          () => agent.metrics.get("readings_captured") > 10,
          "readings captured before the clock is synced",
        );
        const beforeSync = agent.metrics.get("readings_captured");
        const trueNow = Date.now();
        offset = trueNow - performance.now(); // NTP steps the clock
        await env.proxy.up();
        await env.monitor.waitFor(
          () => env.monitor.seqs("C01").size > beforeSync / 2 + 5,
          "readings after the sync",
        );
        await env.monitor.waitFor(() => agent.status().outbox.telemetry < 5, "the drain");
      } finally {
        await agent.stop(1000);
      }
      const mine = env.monitor.readings
        .filter((r) => r.reading.boot_id === agent.bootId)
        .map((r) => r.reading);
      expect(mine.length).toBeGreaterThan(20);
      // Nothing arrives stamped 1970: the buffered readings were moved to their true time.
      for (const r of mine) {
        expect(Date.parse(r.measurement_time)).toBeGreaterThan(Date.UTC(2026, 0, 1));
        expect(Date.parse(r.measurement_time)).toBeLessThan(Date.now() + 60_000); // not shifted twice
        expect(r.clock).toBe("synced");
      }
      const first = mine.filter((r) => r.container_id === "C01").sort((a, b) => a.seq - b.seq)[0];
      // The first reading was taken about 2 s before the sync, at the start of the test.
      expect(
        Math.abs(Date.parse(first?.measurement_time ?? "") - (Date.now() - 2000)),
      ).toBeLessThan(30_000);
      expect(agent.metrics.get("clock_corrected")).toBeGreaterThan(10);
      expect(logs.lines.some((l) => l.msg.includes("the wall clock is now trusted"))).toBe(true);
    },
  );
});
