import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { testConfig, type TestConfigOptions } from "../support/agent-config.js";
import { agentMqtt, useMosquitto } from "../support/broker-fixture.js";
import { captureLogs } from "../support/logs.js";

/**
 * What the publisher promises whichever MQTT client carries it (mqtt.client), against Mosquitto
 * with mutual TLS: every reading at QoS 1, a row deleted only on its PUBACK (the outbox empties
 * only as they arrive), the agent's own reconnect through an outage with nothing lost, a drain
 * under an in-flight cap of two messages, and a refusal moved to the dead-letter table with the
 * broker's reason. transport-*.test.ts run it on each client.
 */
export function transportContract(binary: string, client: "mqttjs" | "aws-crt"): void {
  const env = useMosquitto(binary, ["gw-t1", "gw-t2"]);
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
  });

  function startAgent(gatewayId: string, identity: string, overrides: Partial<TestConfigOptions>) {
    const logs = captureLogs();
    const config = testConfig({
      url: env.agentUrl,
      dir: mkdtempSync(join(env.temp.dir, "agent-")),
      gatewayId,
      ca: env.pki.caCert,
      identity: env.pki.client(identity),
      mqtt: { ...agentMqtt(env, identity), client },
      ...overrides,
    });
    const agent = new Agent(config, { logger: logs.logger });
    agents.push(agent);
    agent.start();
    return { agent, logs };
  }

  /** Every seq the agent captured for a container has arrived, 1 to the last. */
  function everySeq(container: string, last: number): boolean {
    const seqs = env.monitor.seqs(container);
    for (let seq = 1; seq <= last; seq++) if (!seqs.has(seq)) return false;
    return true;
  }

  describe(`the publisher on ${client}`, () => {
    it("delivers every reading at QoS 1 through an outage, on its own reconnect policy, draining with two messages in flight", async () => {
      const { agent } = startAgent("gw-t1", "gw-t1", {
        intervalMs: 100,
        containers: 2,
        mqtt: { maxInflight: 2 },
      });
      await env.monitor.waitFor(() => env.monitor.seqs("C01").size >= 5, "five readings");
      await env.proxy.down();
      await env.monitor.waitFor(() => agent.glance().backlog >= 40, "a backlog");
      await env.proxy.up();
      await agent.stopSampling();
      await env.monitor.waitFor(() => agent.glance().backlog === 0, "the backlog drained");
      const status = agent.status();
      expect(status.outbox.telemetry).toBe(0);
      const last = agent.metrics.get("readings_captured") / 2;
      await env.monitor.waitFor(
        () => everySeq("C01", last) && everySeq("C02", last),
        "every seq of both containers",
      );
      expect(agent.metrics.get("connects")).toBeGreaterThanOrEqual(2);
      expect(agent.metrics.get("dead_lettered")).toBe(0);
    }, 60_000);

    it("moves a publish the broker refuses for good to the dead-letter table, with its reason", async () => {
      // The certificate says gw-t1, the config gw-t2: every topic is outside its ACL.
      const { agent, logs } = startAgent("gw-t2", "gw-t1", { intervalMs: 200, containers: 1 });
      await env.monitor.waitFor(
        () => agent.status().outbox.deadLettered >= 3,
        "three dead letters",
      );
      expect(logs.lines.some((l) => /dead-letter.*135/i.test(l.msg))).toBe(true);
      expect(env.monitor.readings.some((r) => r.reading.gateway_id === "gw-t2")).toBe(false);
      expect(agent.status().connected).toBe(true);
    }, 30_000);
  });
}
