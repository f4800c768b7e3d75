import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { validateConfig } from "../../config/load.js";
import { agentMqtt, useMosquitto } from "../support/broker-fixture.js";
import { captureLogs } from "../support/logs.js";
import { CreateThingCommand, IoTClient } from "@aws-sdk/client-iot";
import { GetThingShadowCommand, IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { MotoServer, requireMoto } from "../support/moto.js";
import { MONITOR, SHADOW_SERVICE } from "../support/mosquitto.js";
import { ShadowService } from "../support/shadow-service.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const moto = requireMoto();
const GATEWAY = "gw-health";

interface Report {
  state: {
    reported: {
      schema: string;
      bootId: string;
      clock: string;
      outbox: { depth: number; oldestAgeSeconds: number | null };
      lastDeliveryAt: string | null;
    };
  };
}

/**
 * The `health` named shadow over Mosquitto with mTLS, with the shadow service's documents kept
 * by moto's IoT data plane (test/support/shadow-service.ts): the gateway reports when it
 * connects, again when a backlog starts or drains, and what an operator reads back with
 * GetThingShadow says what it needs.
 */
describe.skipIf(mosquitto.skip || moto.skip)("the health shadow", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY, SHADOW_SERVICE]);
  const running: Agent[] = [];
  afterEach(async () => {
    for (const agent of running.splice(0)) await agent.stop(0);
  });

  it("reports on connect, reports the backlog of an outage when the link is back, then its drain", async () => {
    const reports: Report[] = [];
    const { cert, key } = env.pki.client(MONITOR);
    const listener = await mqtt.connectAsync(env.broker.url, {
      ca: readFileSync(env.pki.caCert),
      cert: readFileSync(cert),
      key: readFileSync(key),
      rejectUnauthorized: true,
      clientId: "health-listener",
    });
    await listener.subscribeAsync(`$aws/things/${GATEWAY}/shadow/name/health/update`, { qos: 1 });
    listener.on("message", (_topic, payload) =>
      reports.push(JSON.parse(payload.toString()) as Report),
    );
    const aws = await MotoServer.start();
    await new IoTClient(aws.clientConfig()).send(new CreateThingCommand({ thingName: GATEWAY }));
    const data = new IoTDataPlaneClient(aws.clientConfig());
    const service = await ShadowService.start({
      brokerUrl: env.broker.url,
      ca: env.pki.caCert,
      identity: env.pki.client(SHADOW_SERVICE),
      data,
    });
    // The condition's own text names what was awaited if it never comes.
    const until = (condition: () => boolean) => waitFor(String(condition), condition, 60_000);
    try {
      const config = validateConfig(
        {
          version: 1,
          gateway: { id: GATEWAY },
          mqtt: agentMqtt(env, GATEWAY),
          buffer: { path: join(env.temp.dir, "health-outbox.db") },
          sampling: { intervalMs: 100 },
          containers: [{ id: "H1", product: "P01", driver: { type: "simulated", seed: 1 } }],
          health: { intervalSeconds: 600, minGapSeconds: 1 },
          log: { level: "warn" },
        },
        "health test",
      );
      const agent = new Agent(config, { logger: captureLogs("fatal").logger });
      running.push(agent);
      agent.start();
      await until(() => reports.length >= 1);
      const first = reports[0]?.state.reported;
      expect(first?.schema).toBe("reefer-edge/health/1");
      expect(first?.bootId).toBe(agent.bootId);

      // An outage: readings pile up; the report of the backlog is owed until the link is back.
      await env.proxy.down();
      await until(() => agent.glance().backlog > 20);
      const before = reports.length;
      await env.proxy.up();
      await until(() => reports.slice(before).some((r) => r.state.reported.outbox.depth > 3));
      const behind = reports.slice(before).find((r) => r.state.reported.outbox.depth > 3);
      expect(behind?.state.reported.outbox.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
      // Drained: the class changes back, and that is reported too.
      const drainedFrom = reports.length;
      await until(() => reports.slice(drainedFrom).some((r) => r.state.reported.outbox.depth <= 3));
      const last = reports.at(-1)?.state.reported;
      expect(last?.lastDeliveryAt).not.toBeNull();
      expect(last?.clock).toBe("synced");

      // What the operator reads from the cloud's shadow: the last report, versioned.
      type Stored = { state: { reported: Report["state"]["reported"] }; version: number };
      const stored = async (): Promise<Stored> => {
        const response = await data.send(
          new GetThingShadowCommand({ thingName: GATEWAY, shadowName: "health" }),
        );
        return JSON.parse(Buffer.from(response.payload ?? []).toString()) as Stored;
      };
      let shadow = await stored();
      await waitFor(
        "a stored report of this boot with a delivery",
        async () => {
          shadow = await stored();
          return (
            Boolean(shadow.state.reported.lastDeliveryAt) &&
            shadow.state.reported.bootId === agent.bootId
          );
        },
        60_000,
      );
      expect(shadow.state.reported.schema).toBe("reefer-edge/health/1");
      // Versioned by moto, one version an accepted report (how many depends on timing).
      expect(shadow.version).toBeGreaterThanOrEqual(1);
    } finally {
      await listener.endAsync();
      await service.stop();
      await aws.stop();
    }
  }, 60_000);
});
