import { afterEach, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { NUMERIC_FIELDS, BOOLEAN_FIELDS } from "../../core/record.js";
import { testConfig, type TestConfigOptions } from "../support/agent-config.js";
import { captureLogs } from "../support/logs.js";
import { issueExpired } from "../support/pki.js";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { useMosquitto } from "../support/broker-fixture.js";
import { requireFaketime, requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const faketime = requireFaketime("the expired-certificate test");
const CONTRACT_FIELDS = [
  // The audit log's (on by default): which log, and the reading's index there.
  "log_id",
  "log_index",
  "container_id",
  "measurement_time",
  "product_id",
  ...NUMERIC_FIELDS,
  ...BOOLEAN_FIELDS,
  "gateway_id",
  "boot_id",
  "seq",
  "clock",
].sort();

describe.skipIf(mosquitto.skip)("agent against Mosquitto with mutual TLS", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-0001", "gw-0002"]);
  const agents: Agent[] = [];

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
  });

  function startAgent(gatewayId: string, overrides: Partial<TestConfigOptions>) {
    const logs = captureLogs();
    const config = testConfig({
      url: env.broker.url,
      dir: mkdtempSync(join(env.temp.dir, "agent-")),
      gatewayId,
      ca: env.pki.caCert,
      identity: env.pki.client("gw-0001"),
      ...overrides,
    });
    const agent = new Agent(config, { logger: logs.logger });
    agents.push(agent);
    agent.start();
    return { agent, logs };
  }

  it("delivers readings with exactly the wire contract's fields on the gateway's topics", async () => {
    const { agent } = startAgent("gw-0001", {});
    const mine = () => env.monitor.readings.filter((r) => r.reading.boot_id === agent.bootId);
    // Waited on as facts: on a busy machine more of the first readings are captured before the
    // CONNACK and travel as backfill, so the live ones are counted, not assumed.
    await env.monitor.waitFor(
      () =>
        ["C01", "C02", "C03"].every((c) => env.monitor.seqs(c).size >= 5) &&
        mine().filter((r) => r.topic.endsWith("/telemetry")).length > 10,
      "5 readings of each container, and more than 10 of them live on the telemetry topics",
    );
    for (const { topic, reading } of mine()) {
      expect(Object.keys(reading).sort()).toEqual(CONTRACT_FIELDS);
      // Readings captured before the CONNACK are backlog, and travel as backfill.
      expect(topic).toMatch(
        new RegExp(`^dt/reefer/gw-0001/${reading.container_id}/(telemetry|backfill)$`),
      );
      expect(reading.measurement_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(reading.gateway_id).toBe("gw-0001");
      expect(reading.clock).toBe("synced");
      expect(typeof reading.temperature).toBe("number");
    }
    const c1 = mine()
      .filter((r) => r.reading.container_id === "C01")
      .map((r) => r.reading.seq);
    expect(c1).toEqual([...c1].sort((a, b) => a - b)); // in seq order
  });

  it("is refused with a clear error when its certificate is from an untrusted CA", async () => {
    const { agent, logs } = startAgent("gw-0001", { identity: env.pki.untrusted });
    await env.monitor.waitFor(
      () => logs.lines.some((l) => l.msg.includes("does not trust this gateway's certificate")),
      "the untrusted-certificate error",
    );
    expect(agent.status().connected).toBe(false);
    expect(agent.metrics.get("connects")).toBe(0);
    expect(agent.metrics.get("connection_errors", { kind: "credentials" })).toBeGreaterThan(0);
  });

  it("is refused with a clear error when it presents no certificate", async () => {
    const { agent, logs } = startAgent("gw-0001", { identity: undefined });
    await env.monitor.waitFor(
      () => logs.lines.some((l) => l.msg.includes("requires a client certificate")),
      "the missing-certificate error",
    );
    expect(agent.status().connected).toBe(false);
  });

  it("moves publishes outside its ACL to the dead-letter table with the broker's reason (MQTT 5)", async () => {
    // The certificate says gw-0001, the config says gw-0002: every topic is outside its ACL.
    const { agent, logs } = startAgent("gw-0002", { intervalMs: 200, containers: 1 });
    await env.monitor.waitFor(() => agent.status().outbox.deadLettered >= 3, "three dead letters");
    expect(logs.lines.some((l) => /dead-letter.*Not authorized.*135/i.test(l.msg))).toBe(true);
    expect(agent.metrics.total("dead_lettered")).toBeGreaterThanOrEqual(3);
    expect(env.monitor.readings.some((r) => r.reading.gateway_id === "gw-0002")).toBe(false);
    expect(agent.status().connected).toBe(true); // the connection itself is fine
  });

  it.skipIf(faketime.skip)(
    "is refused with a clear error when its certificate has expired, and retries slowly",
    async () => {
      const expired = issueExpired(env.temp.dir, "gw-0001-expired", faketime.path ?? "");
      const { agent, logs } = startAgent("gw-0001", { identity: expired });
      await env.monitor.waitFor(
        () => logs.lines.some((l) => l.msg.includes("certificate has expired")),
        "the expired-certificate error",
      );
      expect(
        logs.lines.some((l) => l.msg.includes("expired on Jan  2") || /expired on/.test(l.msg)),
      ).toBe(true);
      expect(agent.status().connected).toBe(false);
      // A refused certificate is retried near the backoff ceiling (2 s in this test's config), not in a loop.
      await env.monitor.waitFor(
        () => agent.metrics.get("reconnect_delay_ms") > 0,
        "a scheduled retry",
      );
      expect(agent.metrics.get("reconnect_delay_ms")).toBeGreaterThanOrEqual(1000);
      expect(agent.metrics.get("connect_attempts")).toBeLessThanOrEqual(2);
    },
  );
});
