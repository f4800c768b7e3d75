import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/load.js";
import {
  gatewayConfig,
  gatewayId,
  linkGroupOf,
  loadFleetFile,
  parseFleet,
  parseShard,
  scenarioOf,
  shardRange,
} from "./fleet-file.js";

const examples = fileURLToPath(new URL("../config/examples/fleets/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "reefer-fleet-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  version: 1,
  gateways: 10_000,
  idPrefix: "sim",
  broker: { start: "mosquitto" },
  agent: { sampling: { intervalMs: 10_000 } },
};

function problems(raw: unknown): string[] {
  try {
    parseFleet(raw, "fleet.yaml", dir);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("the fleet file", () => {
  it("names gateways <prefix>-<zero-padded index> and gives each its own outbox and certificate", () => {
    const fleet = parseFleet(base, "fleet.yaml", dir);
    const config = gatewayConfig(fleet, 42, { url: "mqtts://127.0.0.1:8883", ca: "/ca.pem" });
    expect(gatewayId(fleet, 42)).toBe("sim-00042");
    expect(config.gateway.id).toBe("sim-00042");
    expect(config.buffer.path).toBe(join(dir, "fleet-data", "gateways", "sim-00042", "outbox.db"));
    expect(config.mqtt.cert).toBe(join(dir, "fleet-data", "certs", "sim-00042.crt"));
    expect(config.mqtt.key).toBe(join(dir, "fleet-data", "certs", "sim-00042.key"));
    expect(config.sampling.intervalMs).toBe(10_000);
    expect(config.containers.map((c) => c.id)).toEqual(["sim-00042-C1"]);
    // Thousands of outboxes in one process and on one disk: a small cache and reserve each.
    expect(config.buffer).toMatchObject({ cacheKiB: 40, reserveKiB: 64, durability: "full" });
  });

  it("lets the fleet file choose the outbox's cache and reserve", () => {
    const fleet = parseFleet(
      { ...base, agent: { ...base.agent, buffer: { cacheKiB: 400, reserveKiB: 0 } } },
      "fleet.yaml",
      dir,
    );
    const config = gatewayConfig(fleet, 0, { url: "mqtts://127.0.0.1:8883" });
    expect(config.buffer).toMatchObject({ cacheKiB: 400, reserveKiB: 0 });
  });

  it("shares one connect budget across the fleet unless the fleet file says otherwise", () => {
    const fleet = parseFleet(base, "fleet.yaml", dir);
    const config = gatewayConfig(fleet, 0, { url: "mqtts://127.0.0.1:8883" });
    expect(config.mqtt.reconnect).toMatchObject({ fleetSize: 10_000, connectsPerSecond: 100 });
    const own = parseFleet(
      {
        ...base,
        agent: { ...base.agent, mqtt: { reconnect: { fleetSize: 1, connectsPerSecond: 500 } } },
      },
      "fleet.yaml",
      dir,
    );
    expect(gatewayConfig(own, 0, { url: "mqtts://127.0.0.1:8883" }).mqtt.reconnect).toMatchObject({
      fleetSize: 1,
      connectsPerSecond: 500,
    });
  });

  it("draws the scenario mix with the seed: about the weights, the same draw every time", () => {
    const fleet = parseFleet(base, "fleet.yaml", dir);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const scenario = scenarioOf(fleet, i, 0);
      counts.set(scenario, (counts.get(scenario) ?? 0) + 1);
    }
    expect(counts.get("normal")).toBeGreaterThan(9_500);
    expect(counts.get("temperature-rising")).toBeGreaterThan(120);
    expect(counts.get("temperature-rising")).toBeLessThan(300);
    expect(counts.get("power-off")).toBeGreaterThan(50);
    expect(counts.get("power-off")).toBeLessThan(160);
    expect(scenarioOf(fleet, 1234, 0)).toBe(scenarioOf(parseFleet(base, "f", dir), 1234, 0));
    const reseeded = parseFleet({ ...base, seed: 2 }, "f", dir);
    const differs = Array.from({ length: 2000 }, (_, i) => i).some(
      (i) => scenarioOf(fleet, i, 0) !== scenarioOf(reseeded, i, 0),
    );
    expect(differs).toBe(true);
  });

  it("puts the partition's fraction of the gateways behind its link, and no one else", () => {
    const fleet = parseFleet(
      {
        ...base,
        chaos: [
          { kind: "partition", atSeconds: 10, durationSeconds: 30, fraction: 0.1 },
          { kind: "slow-link", atSeconds: 50, durationSeconds: 30, fraction: 0.05 },
        ],
      },
      "f",
      dir,
    );
    const groups = Array.from({ length: 10_000 }, (_, i) => linkGroupOf(fleet, i));
    const partition = groups.filter((g) => g === "partition").length;
    const slow = groups.filter((g) => g === "slow").length;
    expect(partition).toBeGreaterThan(900);
    expect(partition).toBeLessThan(1100);
    expect(slow).toBeGreaterThan(420);
    expect(slow).toBeLessThan(580);
    expect(linkGroupOf(parseFleet(base, "f", dir), 3)).toBeNull();
  });

  it("splits a fleet into contiguous shards that cover it once", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, of: 4 });
    expect(parseShard(undefined)).toEqual({ index: 1, of: 1 });
    expect(parseShard("5/4")).toBeNull();
    expect(parseShard("0/4")).toBeNull();
    expect(parseShard("a/b")).toBeNull();
    const ranges = [1, 2, 3].map((index) => shardRange(10, { index, of: 3 }));
    expect(ranges).toEqual([
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
  });

  it("refuses what each gateway sets itself, and a mistake in the shared agent settings, by path", () => {
    expect(
      problems({
        ...base,
        agent: { gateway: { id: "x" }, mqtt: { cert: "a.pem" }, buffer: { path: "o.db" } },
      }),
    ).toEqual([
      "agent.gateway: is set per gateway by the fleet; remove it",
      "agent.mqtt.cert: each gateway gets its own certificate from the issuer; remove it",
      "agent.buffer.path: each gateway's outbox lives under dataDir; remove it",
    ]);
    expect(problems({ ...base, agent: { sampling: { intervalMs: 5 } } })).toEqual([
      "agent.sampling.intervalMs: Too small: expected number to be >=100",
    ]);
    expect(problems({ ...base, broker: { start: "none" } })).toEqual([
      'agent.mqtt.url: the broker: set agent.mqtt.url, or broker.start: "mosquitto"',
    ]);
    expect(problems({ ...base, gateways: 0, scenarios: { normal: 0 } })).toEqual(
      expect.arrayContaining([
        "gateways: Too small: expected number to be >=1",
        "scenarios: needs a positive weight",
      ]),
    );
  });

  it("reads YAML and resolves its paths against the file's folder", () => {
    const file = join(dir, "fleet.yaml");
    writeFileSync(
      file,
      "version: 1\ngateways: 3\ndataDir: data\nissuer: { cert: ca.pem, key: ca.key }\n" +
        "agent: { mqtt: { url: 'mqtts://broker.example:8883', ca: root.pem } }\n",
    );
    const fleet = loadFleetFile(file);
    expect(fleet.dataDir).toBe(join(dir, "data"));
    expect(fleet.issuer).toEqual({ cert: join(dir, "ca.pem"), key: join(dir, "ca.key") });
    expect((fleet.agent.mqtt as { ca: string }).ca).toBe(join(dir, "root.pem"));
    writeFileSync(file, "version: 1\ngateways: [\n");
    expect(() => loadFleetFile(file)).toThrow(/YAML/);
  });
});

describe("the fleet files shipped in config/examples/fleets", () => {
  it("all validate", () => {
    const fleets = readdirSync(examples).filter((f) => f.endsWith(".yaml"));
    expect(fleets.length).toBeGreaterThanOrEqual(1);
    for (const fleet of fleets) expect(() => loadFleetFile(join(examples, fleet))).not.toThrow();
  });
});
