import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { validateConfig } from "../config/load.js";
import { captureLogs } from "../test/support/logs.js";
import { freePort } from "../test/support/ports.js";
import { makeTempDir } from "../test/support/tmp.js";
import { Agent } from "../agent/agent.js";
import { TILE } from "../dashboard/wire.js";
import { TileTracker } from "./tile-tracker.js";
import { waitFor } from "../test/support/wait-for.js";

const running: Agent[] = [];
const temps: { cleanup: () => void }[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop(0);
  for (const temp of temps.splice(0)) temp.cleanup();
});

/** A folder for one agent's outbox, removed after the test. */
function tempDir(): string {
  const temp = makeTempDir("reefer-edge-tiles-");
  temps.push(temp);
  return temp.dir;
}

/** A real agent buffering offline: C1 runs normally, C2 loses power at once. */
async function offlineAgent(): Promise<Agent> {
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "tiles-gw" },
      mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
      buffer: { path: join(tempDir(), "outbox.db") },
      sampling: { intervalMs: 100 },
      containers: [
        { id: "C1", product: "P01", driver: { type: "simulated", seed: 1 } },
        { id: "C2", product: "P02", driver: { type: "simulated", seed: 2, scenario: "power-off" } },
      ],
      rules: { power: { graceSeconds: 0 } },
    },
    "tile test",
  );
  const agent = new Agent(config, { logger: captureLogs("fatal").logger });
  running.push(agent);
  return agent;
}

describe("TileTracker", () => {
  it("flags each container: no data, offline, backlog, alarm; and sends a tile only when it changed", async () => {
    const agent = await offlineAgent();
    // This worker's gateway is the fleet's third: its tiles start at 2 × 2.
    const tracker = new TileTracker(4, 1, 2);
    tracker.track(0, agent);
    expect(tracker.changes()).toEqual({
      tiles: [4, 5],
      flags: [TILE.noData | TILE.offline, TILE.noData | TILE.offline],
      temperatures: [null, null],
    });
    expect(tracker.changes().tiles).toEqual([]);

    let alarmed = false;
    agent.events.on("alert", (alerts) => {
      if (alerts.some((a) => a.container_id === "C2" && a.state === "raised")) alarmed = true;
    });
    agent.start();
    // Offline, the backlog grows past three ticks of the gateway's containers.
    await waitFor("an alarm and a backlog", () => alarmed && agent.glance().backlog > 6, 20_000);
    const changes = tracker.changes();
    expect(changes.tiles).toEqual([4, 5]);
    expect(changes.flags[0]).toBe(TILE.offline | TILE.backlog);
    expect(changes.flags[1]).toBe(TILE.offline | TILE.backlog | TILE.alarm);
    // Tenths of °C, near each product's setpoint.
    expect(changes.temperatures[0]).toBeGreaterThan(0);
    expect(changes.temperatures[0]).toBeLessThan(100);
  });
});
