import { App, Stack } from "aws-cdk-lib";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import mqtt from "mqtt";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../../agent/agent.js";
import { validateConfig } from "../../../config/load.js";
import { agentMqtt, useMosquitto } from "../../../test/support/broker-fixture.js";
import { makeReading } from "../../../test/support/readings.js";
import { captureLogs } from "../../../test/support/logs.js";
import { requireTool } from "../../../test/support/tools.js";
import { waitFor } from "../../../test/support/wait-for.js";
import { buildApp, FEATURE_FLAGS } from "../bin/app.js";
import type { Router } from "../router/router.js";
import { startLocalPath, type LocalPath } from "./support/local-path.js";
import { requireMoto } from "./support/moto.js";
import { capturedLastSeqs, missingSeqs, streamRecords } from "./support/path-records.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const moto = requireMoto();
const GATEWAY = "gw-basic-ingest";
const CONTAINER = "MSKU0000009";
const TELEMETRY_RULE = "reefer_telemetry_to_kinesis";
const BACKFILL_RULE = "reefer_backfill_to_lake";

describe("AWS IoT Basic Ingest in the gateway policy (-c basicIngest=true)", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** The gateway policy's iot:Publish resources, as text, for an app with this context. */
  function gatewayPublish(context: Record<string, string>): string[] {
    const outdir = mkdtempSync(join(tmpdir(), "reefer-basic-ingest-"));
    dirs.push(outdir);
    const app = buildApp(new App({ outdir, context: { ...FEATURE_FLAGS, ...context } }));
    const ingest = Stack.of(app.node.findChild("ReeferIngest"));
    const template = app.synth().getStackByName(ingest.stackName).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const policy = Object.values(template.Resources).find(
      (r) =>
        r.Type === "AWS::IoT::Policy" && String(r.Properties.PolicyName).endsWith("reefer-gateway"),
    );
    const statements = (policy?.Properties.PolicyDocument as { Statement: unknown[] })
      .Statement as {
      Action: string;
      Resource: unknown[];
    }[];
    return statements
      .filter((s) => s.Action === "iot:Publish")
      .flatMap((s) => s.Resource.map((r) => JSON.stringify(r)));
  }

  it("lets a gateway reach the telemetry and backfill rules by Basic Ingest, as its own thing, and no other rule", () => {
    const thing = "${iot:Connection.Thing.ThingName}";
    const withIt = gatewayPublish({ basicIngest: "true", stage: "dev" });
    const direct = withIt.filter((r) => r.includes("$aws/rules/"));
    expect(direct).toEqual([
      expect.stringContaining(`:topic/$aws/rules/dev_${TELEMETRY_RULE}/dt/reefer/${thing}/*`),
      expect.stringContaining(`:topic/$aws/rules/dev_${BACKFILL_RULE}/dt/reefer/${thing}/*`),
    ]);
    // Off by default: the broker's topics only.
    expect(gatewayPublish({}).filter((r) => r.includes("$aws/rules/"))).toEqual([]);
  }, 120_000);
});

/**
 * The agent with `publish.basicIngest`, through an outage: its live readings and its backfill
 * go to their rules by Basic Ingest topics on a real broker, the router hands each to the one
 * rule it names (as IoT Core does), and every seq arrives in moto's stream or the lake. What
 * the door refuses by Basic Ingest is not quarantined (the trade the option documents); by the
 * broker it is.
 */
describe.skipIf(mosquitto.skip || moto.skip)("readings by Basic Ingest, offline and back", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY]);
  let path: LocalPath;
  let kinesis: KinesisClient;
  let router: Router;

  beforeAll(async () => {
    path = await startLocalPath(env, "router-basic-ingest");
    ({ kinesis, router } = path);
  }, 120_000);
  afterAll(async () => {
    await path.close();
  });

  it("delivers every reading by its rule, live and backfilled", async () => {
    const outbox = join(mkdtempSync(join(env.temp.dir, "agent-")), "outbox.db");
    const agent = new Agent(
      validateConfig(
        {
          version: 1,
          gateway: { id: GATEWAY },
          mqtt: agentMqtt(env, GATEWAY),
          publish: { basicIngest: { telemetry: TELEMETRY_RULE, backfill: BACKFILL_RULE } },
          buffer: { path: outbox },
          sampling: { intervalMs: 100 },
          containers: [
            {
              id: CONTAINER,
              product: "P02",
              driver: { type: "simulated", scenario: "normal", seed: 9 },
            },
          ],
        },
        "basic-ingest",
      ),
      { logger: captureLogs("warn").logger },
    );
    agent.start();
    try {
      // Live ones: readings captured while the first connection was being made go as backfill.
      await env.monitor.waitFor(
        () => env.monitor.readings.filter((r) => r.topic.endsWith("/telemetry")).length >= 10,
        "10 live readings",
      );
      await env.proxy.down();
      await env.monitor.waitFor(
        () => agent.status().outbox.telemetry >= 30,
        "a backlog of 30 readings during the outage",
      );
      await env.proxy.up();
      await env.monitor.waitFor(
        () => agent.status().outbox.telemetry === 0,
        "the backlog drained",
        60_000,
      );
    } finally {
      await agent.stop();
    }
    const kinds = new Set(
      env.monitor.readings.map((r) => r.topic.slice(0, r.topic.indexOf("/dt/reefer/"))),
    );
    expect([...kinds].sort()).toEqual([
      `$aws/rules/${BACKFILL_RULE}`,
      `$aws/rules/${TELEMETRY_RULE}`,
    ]);
    const { live, lake } = await path.settled(env.monitor);
    expect(router.failures).toEqual([]);
    expect(router.quarantined).toEqual([]);

    expect(live.length).toBeGreaterThanOrEqual(10);
    expect(lake.length).toBeGreaterThan(0);
    for (const record of live) expect(record.partitionKey).toBe(CONTAINER);
    expect(
      missingSeqs(capturedLastSeqs(outbox), [...live.map((l) => l.reading), ...lake]),
      "seqs in neither the stream nor the lake",
    ).toEqual({ [CONTAINER]: [] });
  }, 180_000);

  it("hands a Basic Ingest message to the rule it names only: the door's refusals are not quarantined there, but are on the broker's topic", async () => {
    const { cert, key } = env.pki.client(GATEWAY);
    const client = await mqtt.connectAsync(env.broker.url, {
      ca: readFileSync(env.pki.caCert),
      cert: readFileSync(cert),
      key: readFileSync(key),
      clientId: `${GATEWAY}-raw`,
      protocolVersion: 5,
    });
    const before = {
      routed: router.routed,
      live: (await streamRecords(kinesis, "telemetries")).length,
    };
    // A reading whose container is not its topic's: the telemetry door refuses it.
    const stray = JSON.stringify({
      ...makeReading("MSKU0000404", Date.now()),
      gateway_id: GATEWAY,
      seq: 1,
    });
    const topic = `dt/reefer/${GATEWAY}/${CONTAINER}/telemetry`;
    try {
      await client.publishAsync(`$aws/rules/${TELEMETRY_RULE}/${topic}`, stray, { qos: 1 });
      await client.publishAsync(topic, stray, { qos: 1 });
      await client.publishAsync(`$aws/rules/no_such_rule/${topic}`, stray, { qos: 1 });
    } finally {
      await client.endAsync();
    }
    await waitFor(
      "the router to take the three messages",
      () => router.routed >= before.routed + 3,
      20_000,
    );
    await router.drained();
    expect(router.quarantined.map((q) => [q.rule, q.topic])).toEqual([
      ["reefer_telemetry_quarantine", topic],
    ]);
    expect(router.failures.map((f) => [f.rule, f.error])).toEqual([
      ["no_such_rule", "no such rule"],
    ]);
    expect((await streamRecords(kinesis, "telemetries")).length).toBe(before.live);
  }, 60_000);
});
