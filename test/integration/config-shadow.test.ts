import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CreateThingCommand, IoTClient } from "@aws-sdk/client-iot";
import {
  GetThingShadowCommand,
  IoTDataPlaneClient,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { validateConfig } from "../../config/load.js";
import { agentMqtt, useMosquitto } from "../support/broker-fixture.js";
import { captureLogs } from "../support/logs.js";
import { MotoServer, requireMoto } from "../support/moto.js";
import { SHADOW_SERVICE } from "../support/mosquitto.js";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/ports.js";
import { ShadowService } from "../support/shadow-service.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const moto = requireMoto();
const GATEWAY = "gw-remote";

interface ConfigDocument {
  version: number;
  state: {
    desired?: Record<string, unknown>;
    delta?: Record<string, unknown>;
    reported?: {
      configVersion?: number;
      rules?: unknown;
      refused?: { version: number | null; problems: { path: string; message: string }[] };
    };
  };
}

/**
 * Remote configuration through the named shadow `config`, end to end: the operator's
 * UpdateThingShadow on moto's IoT data plane, the shadow service relaying it over Mosquitto
 * with mTLS, the agent applying or refusing it and reporting back, and the document read back
 * from moto. Versions and deltas are moto's, not ours.
 */
describe.skipIf(mosquitto.skip || moto.skip)("the config shadow", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY, SHADOW_SERVICE]);
  let aws: MotoServer;
  let data: IoTDataPlaneClient;
  let service: ShadowService;
  const running: Agent[] = [];

  beforeAll(async () => {
    aws = await MotoServer.start();
    await new IoTClient(aws.clientConfig()).send(new CreateThingCommand({ thingName: GATEWAY }));
    data = new IoTDataPlaneClient(aws.clientConfig());
    service = await ShadowService.start({
      brokerUrl: env.broker.url,
      ca: env.pki.caCert,
      identity: env.pki.client(SHADOW_SERVICE),
      data,
    });
  });
  afterAll(async () => {
    await service.stop();
    await aws.stop();
  });
  afterEach(async () => {
    for (const agent of running.splice(0)) await agent.stop(0);
  });

  const outbox = () => join(env.temp.dir, "remote", "outbox.db");
  function startAgent(mqttSettings: Record<string, unknown>): Agent {
    const config = validateConfig(
      {
        version: 1,
        gateway: { id: GATEWAY },
        mqtt: mqttSettings,
        buffer: { path: outbox() },
        sampling: { intervalMs: 1000 },
        containers: [{ id: "S1", product: "P01", driver: { type: "simulated", seed: 1 } }],
        rules: { temperature: { threshold: 18 } },
        health: { enabled: false },
        log: { level: "warn" },
      },
      "config shadow test",
    );
    const { logger } = captureLogs("fatal");
    const agent = new Agent(config, { logger });
    loggers.set(agent, logger);
    running.push(agent);
    agent.start();
    return agent;
  }
  const loggers = new WeakMap<Agent, { level: string }>();
  async function desire(desired: unknown): Promise<number> {
    const response = await data.send(
      new UpdateThingShadowCommand({
        thingName: GATEWAY,
        shadowName: "config",
        payload: Buffer.from(JSON.stringify({ state: { desired } })),
      }),
    );
    return (JSON.parse(Buffer.from(response.payload ?? []).toString()) as { version: number })
      .version;
  }
  async function shadowDocument(): Promise<ConfigDocument> {
    const response = await data.send(
      new GetThingShadowCommand({ thingName: GATEWAY, shadowName: "config" }),
    );
    return JSON.parse(Buffer.from(response.payload ?? []).toString()) as ConfigDocument;
  }
  /** The condition's own text names what was awaited if it never comes. */
  function until(condition: () => boolean | Promise<boolean>): Promise<void> {
    return waitFor(String(condition), condition, 60_000, { everyMs: 100 });
  }
  const limit = (agent: Agent) => agent.containers()[0]?.limit;

  it("applies a desired state without a restart and reports it; refuses a bad one with its reasons", async () => {
    const agent = startAgent(agentMqtt(env, GATEWAY));
    expect(limit(agent)).toBe(18);
    await until(() => agent.status().connected);
    const version = await desire({
      rules: { temperature: { threshold: 9 } },
      sampling: { intervalMs: 300 },
    });
    service.watchShadow(GATEWAY, "config");
    await until(
      async () => ((await shadowDocument()).state.reported?.configVersion ?? 0) >= version,
    );
    expect(limit(agent)).toBe(9);
    expect(agent.containers().find((c) => c.id === "S1")?.intervalMs).toBe(300);
    const applied = await shadowDocument();
    expect(applied.state.delta).toBeUndefined();
    expect(applied.state.reported?.refused).toBeUndefined();
    // Kept beside the outbox, for the agent's user only.
    const saved = join(env.temp.dir, "remote", "remote-config.json");
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    // The version of the document it applied: the operator's, or a later one of the same desire.
    const kept = JSON.parse(readFileSync(saved, "utf8")) as { version: number; desired: unknown };
    expect(kept.version).toBeGreaterThanOrEqual(version);
    expect(kept.desired).toEqual({
      rules: { temperature: { threshold: 9 } },
      sampling: { intervalMs: 300 },
    });

    // The log level and a container's report by exception, in the file's own shapes.
    const more = await desire({
      log: { level: "debug" },
      containers: [{ id: "S1", reportByException: { maxSilenceSeconds: 120 } }],
    });
    await until(async () => ((await shadowDocument()).state.reported?.configVersion ?? 0) >= more);
    expect(loggers.get(agent)?.level).toBe("debug");
    expect((await shadowDocument()).state.delta).toBeUndefined();
    // Removed from the desired state (a null): the file's own settings run again.
    const back = await desire({ log: null, containers: null });
    await until(async () => ((await shadowDocument()).state.reported?.configVersion ?? 0) >= back);
    expect(loggers.get(agent)?.level).toBe("warn");

    // A local-only setting: refused whole, with its path; the agent runs as it was.
    const stolen = await desire({ mqtt: { url: "mqtt://203.0.113.7:1883" } });
    await until(
      async () => ((await shadowDocument()).state.reported?.refused?.version ?? 0) >= stolen,
    );
    expect((await shadowDocument()).state.reported?.refused?.problems).toEqual([
      { path: "mqtt", message: "a local-only setting: only the gateway's own config file sets it" },
    ]);
    // A wrong type: refused with the schema's path and reason.
    const wrong = await desire({ mqtt: null, rules: { temperature: { threshold: "hot" } } });
    await until(
      async () => ((await shadowDocument()).state.reported?.refused?.version ?? 0) >= wrong,
    );
    const problems = (await shadowDocument()).state.reported?.refused?.problems ?? [];
    expect(problems.map((p) => p.path)).toEqual(["rules.temperature.threshold"]);
    expect(limit(agent)).toBe(9);
    expect(agent.containers().find((c) => c.id === "S1")?.intervalMs).toBe(300);

    // Bad input on the device's own topics: not JSON, a megabyte; each refused and reported.
    const { cert, key } = env.pki.client(SHADOW_SERVICE);
    const rogue = await mqtt.connectAsync(env.broker.url, {
      ca: readFileSync(env.pki.caCert),
      cert: readFileSync(cert),
      key: readFileSync(key),
      clientId: "rogue-shadow",
    });
    try {
      const delta = `$aws/things/${GATEWAY}/shadow/name/config/update/delta`;
      await rogue.publishAsync(delta, "{not json", { qos: 1 });
      await until(async () =>
        ((await shadowDocument()).state.reported?.refused?.problems ?? []).some(
          (p) => p.message === "not JSON",
        ),
      );
      await rogue.publishAsync(delta, `{"state":{"x":"${"a".repeat(1024 * 1024)}"},"version":99}`, {
        qos: 1,
      });
      await until(async () =>
        ((await shadowDocument()).state.reported?.refused?.problems ?? []).some((p) =>
          p.message.startsWith("a document of 1048"),
        ),
      );
      // Another thing's delta never reaches this gateway.
      await rogue.publishAsync(
        "$aws/things/other-gw/shadow/name/config/update/delta",
        JSON.stringify({ state: { rules: { temperature: { threshold: 1 } } }, version: 1000 }),
        { qos: 1 },
      );
    } finally {
      await rogue.endAsync();
    }
    expect(limit(agent)).toBe(9);
    expect(agent.metrics.get("readings_captured")).toBeGreaterThan(0);
  }, 60_000);

  it("runs with the settings last applied after a restart while offline", async () => {
    // The broker is unreachable: only the saved settings can say 9.
    const agent = startAgent({ url: `mqtt://127.0.0.1:${await freePort()}` });
    expect(limit(agent)).toBe(9);
    expect(agent.containers().find((c) => c.id === "S1")?.intervalMs).toBe(300);
  });

  it("applies a flood of changes at most once a second, the last one winning, and loses no reading in a drain", async () => {
    const agent = startAgent(agentMqtt(env, GATEWAY));
    await until(() => agent.status().connected);
    await env.proxy.down();
    await until(() => agent.glance().backlog > 5);
    let last = 0;
    for (let threshold = 20; threshold < 40; threshold++) {
      last = await desire({ rules: { temperature: { threshold } } });
    }
    await env.proxy.up();
    await until(async () => ((await shadowDocument()).state.reported?.configVersion ?? 0) >= last);
    expect(limit(agent)).toBe(39);
    expect(agent.metrics.get("shadow_applied")).toBeLessThanOrEqual(3);
    await until(() => agent.glance().backlog === 0);
    const seqs = env.monitor.seqs("S1");
    const highest = Math.max(...seqs);
    for (let seq = 1; seq <= highest; seq++) expect(seqs.has(seq), `seq ${seq}`).toBe(true);
  }, 60_000);

  it("the operator's commands: set and show the config, read health, list by backlog and clock, send", async () => {
    const env2 = {
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
    };
    const cloud = (...args: string[]) => runCli(["cloud", ...args], env2);
    const agent = startAgent(agentMqtt(env, GATEWAY));
    await until(() => agent.status().connected);

    const set = await cloud(
      "config",
      "set",
      "--gateway",
      GATEWAY,
      "--set",
      "rules.temperature.threshold=12",
      "--json",
    );
    expect(set.code, set.stderr).toBe(0);
    const [{ version }] = JSON.parse(set.stdout) as [{ version: number }];
    await until(() => limit(agent) === 12);
    await until(async () => {
      const shown = await cloud("config", "show", "--gateway", GATEWAY, "--json");
      const document = JSON.parse(shown.stdout) as ConfigDocument;
      return (document.state.reported?.configVersion ?? 0) >= version && !document.state.delta;
    });

    const refused = await cloud(
      "config",
      "set",
      "--gateway",
      GATEWAY,
      "--set",
      "buffer.path=/tmp/elsewhere",
    );
    expect(refused.code).toBe(0);
    await until(async () =>
      (await cloud("config", "show", "--gateway", GATEWAY)).stdout.includes("refused"),
    );
    const shown = await cloud("config", "show", "--gateway", GATEWAY);
    expect(shown.stdout).toContain("buffer: a local-only setting");
    expect(shown.stdout).toContain('"threshold":12');
    expect(limit(agent)).toBe(12);

    // Health as three gateways reported it, kept in moto's shadows.
    const iot = new IoTClient(aws.clientConfig());
    const health = {
      "fleet-a": [120, "synced"],
      "fleet-b": [0, "unsynced"],
      "fleet-c": [0, "synced"],
    } as const;
    for (const [thing, [depth, clock]] of Object.entries(health)) {
      await iot.send(new CreateThingCommand({ thingName: thing }));
      await data.send(
        new UpdateThingShadowCommand({
          thingName: thing,
          shadowName: "health",
          payload: Buffer.from(
            JSON.stringify({
              state: { reported: { outbox: { depth, oldestAgeSeconds: depth * 10 }, clock } },
            }),
          ),
        }),
      );
    }
    const listed = async (...filters: string[]) =>
      (JSON.parse((await cloud("list", ...filters, "--json")).stdout) as { gateway: string }[]).map(
        (r) => r.gateway,
      );
    expect(await listed("--backlog")).toEqual(["fleet-a"]);
    expect(await listed("--clock-untrusted")).toEqual(["fleet-b"]);
    expect((await listed()).sort()).toEqual(["fleet-a", "fleet-b", "fleet-c", GATEWAY].sort());
    expect((await cloud("health", "--gateway", "fleet-a")).stdout).toContain("120 waiting");
    expect((await cloud("health", "--gateway", "nobody")).code).toBe(1);

    const sent = await cloud(
      "send",
      "--gateway",
      GATEWAY,
      "--command",
      "flush",
      "--payload",
      '{"now":true}',
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toContain(`published to cmd/reefer/${GATEWAY}/flush`);
    expect((await cloud("send", "--gateway", GATEWAY, "--command", "a/b")).code).toBe(2);
    expect((await cloud("config", "set", "--gateway", GATEWAY, "--set", "nonsense")).code).toBe(2);
  }, 90_000);
});
