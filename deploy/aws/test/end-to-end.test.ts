import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadOrCreateCheckpointKey } from "../../../agent/audit/checkpoint-key.js";
import { run as runAudit } from "../../../commands/audit-command.js";
import { checkpointKeyName, verifierKey } from "../../../core/audit/checkpoint.js";
import { Agent } from "../../../agent/agent.js";
import { validateConfig } from "../../../config/load.js";
import { agentMqtt, useMosquitto } from "../../../test/support/broker-fixture.js";
import { captureLogs } from "../../../test/support/logs.js";
import { requireTool } from "../../../test/support/tools.js";
import { act } from "../lambda/act/handler.js";
import type { Router } from "../router/router.js";
import { drainStream } from "./support/event-source.js";
import { startLocalPath, type LocalPath } from "./support/local-path.js";
import { createAlertsTable, type MotoServer, requireMoto } from "./support/moto.js";
import { capturedLastSeqs, missingSeqs, objectsUnder } from "./support/path-records.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const moto = requireMoto();
const GATEWAY = "gw-e2e";

/**
 * The data path from sensor to lake, with everything real but AWS: the agent publishes over
 * mTLS to Mosquitto through an outage and a recovery; the router applies the deployed rule
 * table and puts into moto's Kinesis and Firehose; the act Lambda consumes faulty-reefers.
 */
describe.skipIf(mosquitto.skip || moto.skip)("sensor to lake, offline and back", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY]);
  let path: LocalPath;
  let server: MotoServer;
  let kinesis: KinesisClient;
  let s3: S3Client;
  let ddb: DynamoDBClient;
  let router: Router;
  let agent: Agent;
  const sns = () => new SNSClient(server.clientConfig());

  beforeAll(async () => {
    path = await startLocalPath(env, "router-e2e");
    ({ server, kinesis, s3, router } = path);
    ddb = new DynamoDBClient(server.clientConfig());
    await createAlertsTable(ddb, "alerts");
  }, 120_000);
  afterAll(async () => {
    await path.close();
  });

  it("delivers every reading to the stream or the lake, and every alert once to DynamoDB", async () => {
    const outbox = join(mkdtempSync(join(env.temp.dir, "agent-")), "outbox.db");
    agent = new Agent(
      validateConfig(
        {
          version: 1,
          gateway: { id: GATEWAY },
          mqtt: agentMqtt(env, GATEWAY),
          buffer: { path: outbox },
          sampling: { intervalMs: 100 },
          containers: [
            {
              id: "MSKU0000001",
              product: "P02",
              driver: { type: "simulated", scenario: "power-off", timeScale: 600, seed: 1 },
            },
            {
              id: "MSKU0000002",
              product: "P05",
              driver: {
                type: "simulated",
                scenario: "temperature-rising",
                timeScale: 600,
                seed: 2,
              },
            },
          ],
          // The cold-chain audit log, which the auditor's walk-through at the end verifies.
          audit: { enabled: true },
          // Test-sized rules: alerts within the run's seconds.
          rules: { power: { graceSeconds: 0 }, window: { seconds: 1, allowedLatenessSeconds: 0 } },
        },
        "e2e",
      ),
      { logger: captureLogs("warn").logger },
    );
    agent.start();
    await env.monitor.waitFor(() => env.monitor.readings.length >= 10, "live readings");
    await env.proxy.down();
    await env.monitor.waitFor(
      () => agent.status().outbox.telemetry >= 30 && agent.status().outbox.alerts >= 1,
      "a backlog of 30 readings and an alert during the outage",
    );
    await env.proxy.up();
    await env.monitor.waitFor(
      () => agent.status().outbox.telemetry === 0 && agent.status().outbox.alerts === 0,
      "the backlog drained",
      60_000,
    );
    await agent.stop();
    // What the agent captured, from its own outbox: every seq up to each container's last.
    const captured = capturedLastSeqs(outbox);
    expect([...captured.keys()].sort()).toEqual(["MSKU0000001", "MSKU0000002"]);
    const { live, lake } = await path.settled(env.monitor);
    expect(router.failures).toEqual([]);
    // The agent's own messages all pass the door: nothing of its in the quarantine.
    expect(router.quarantined).toEqual([]);

    for (const record of live) expect(record.partitionKey).toBe(record.reading.container_id);
    expect(lake.length).toBeGreaterThan(0); // the outage's backlog went to the lake
    for (const last of captured.values()) expect(last).toBeGreaterThan(15); // live, then the outage's share of 30
    expect(
      missingSeqs(captured, [...live.map((l) => l.reading), ...lake]),
      "seqs in neither the stream nor the lake",
    ).toEqual({ MSKU0000001: [], MSKU0000002: [] });

    const poison = await new SQSClient(server.clientConfig()).send(
      new CreateQueueCommand({ QueueName: "poison" }),
    );
    const topic = await sns().send(new CreateTopicCommand({ Name: "alerts" }));
    const run = await drainStream(kinesis, "faulty-reefers", (event) =>
      act(event, {
        ddb: DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }),
        sns: sns(),
        sqs: new SQSClient(server.clientConfig()),
        table: "alerts",
        topicArn: topic.TopicArn ?? "",
        poisonQueueUrl: poison.QueueUrl ?? "",
        now: Date.now,
      }),
    );
    expect(run.exhausted).toEqual([]);
    const alertIds = new Set(env.monitor.alerts.map((a) => a.alert.alert_id));
    expect(alertIds.size).toBeGreaterThan(0);
    const items = ((await ddb.send(new ScanCommand({ TableName: "alerts" }))).Items ?? []).map(
      (item) => item.alert_id?.S,
    );
    expect(items.sort()).toEqual([...alertIds].sort());

    // The auditor's walk-through (docs/audit-log.md): the lake's readings (the live stream's,
    // which the live Firehose files in the lake, and the backfill's) and the ledger's objects,
    // copied to folders, verify against the gateway's key: complete and intact.
    const audit = mkdtempSync(join(env.temp.dir, "audit-"));
    const lakeDir = join(audit, "readings");
    const ledgerDir = join(audit, "ledger");
    mkdirSync(lakeDir);
    mkdirSync(ledgerDir);
    writeFileSync(
      join(lakeDir, "live"),
      live.map((l) => JSON.stringify(l.reading) + "\n").join(""),
    );
    writeFileSync(join(lakeDir, "backfill"), lake.map((r) => JSON.stringify(r) + "\n").join(""));
    const ledger = await objectsUnder(s3, "ledger", "audit/");
    expect(ledger.length).toBeGreaterThan(0);
    ledger.forEach((text, i) => writeFileSync(join(ledgerDir, `${i}.json`), text));
    const key = loadOrCreateCheckpointKey(join(dirname(outbox), "checkpoint-key.pem"));
    const keys = join(audit, "keys.txt");
    writeFileSync(keys, verifierKey(checkpointKeyName(GATEWAY), key.publicKey) + "\n");
    let out = "";
    const write = vi
      .spyOn(process.stdout, "write")
      .mockImplementation((chunk) => ((out += String(chunk)), true));
    const verdict = runAudit([
      "verify",
      "--lake",
      lakeDir,
      "--checkpoints",
      ledgerDir,
      "--keys",
      keys,
      "--json",
    ]);
    write.mockRestore();
    const report = JSON.parse(out) as {
      containers: {
        containerId: string;
        complete: boolean;
        intact: boolean;
        missing: string[];
        altered: string[];
      }[];
    };
    expect(
      report.containers.map((c) => [c.containerId, c.complete, c.intact]),
      JSON.stringify(report.containers.map((c) => [c.containerId, c.missing, c.altered])),
    ).toEqual([
      ["MSKU0000001", true, true],
      ["MSKU0000002", true, true],
    ]);
    expect(verdict).toBe(0);
  }, 180_000);
});
