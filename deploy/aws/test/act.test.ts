import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CreateStreamCommand, type KinesisClient, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { kinesisClient } from "../lib/kinesis-client.js";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { act, handler, type ActDeps } from "../lambda/act/handler.js";
import { drainStream } from "./support/event-source.js";
import { createAlertsTable, MotoServer, requireMoto } from "./support/moto.js";

const moto = requireMoto();

/** An edge alert record as the agent publishes it (wire contract, reefer.alert.v1). */
function edgeAlert(container: string, type: string, firstSeq: number, state = "raised") {
  return {
    schema: "reefer.alert.v1",
    alert_id: `${container}:${type}:${firstSeq}:${state}`,
    alert_type: type,
    severity: "critical",
    state,
    container_id: container,
    gateway_id: "gw-0001",
    product_id: "P02",
    first_seq: firstSeq,
    last_seq: firstSeq,
    alert_time: "2026-11-25T12:00:05.000Z",
    since: "2026-11-25T12:00:05.000Z",
    value: 24.5,
    limit: 18,
  };
}

const WINDOW_START_MS = Date.UTC(2026, 10, 25, 12, 0);
const edgeWindow = {
  schema: "reefer.alert.v1",
  alert_id: `MSKU1234565:temperature_window:${WINDOW_START_MS}`,
  alert_type: "temperature_window",
  severity: "warning",
  state: "closed",
  container_id: "MSKU1234565",
  gateway_id: "gw-0001",
  product_id: "P02",
  first_seq: 10,
  last_seq: 15,
  window_start: "2026-11-25T12:00:00.000Z",
  window_end: "2026-11-25T12:01:00.000Z",
  readings_over: 6,
  max_temperature: 21.5,
  threshold: 18,
};
/** The Flink job's record of the same window (faulty-reefers.sql's sink, Flink JSON). */
const cloudWindow = {
  container_id: "MSKU1234565",
  window_start: "2026-11-25 12:00:00",
  window_end: "2026-11-25 12:01:00",
  readings_over: 6,
  max_temperature: 21.5,
  first_seq: 10,
  last_seq: 15,
  source: "cloud",
};

describe.skipIf(moto.skip)("the act Lambda against moto", () => {
  let server: MotoServer;
  let kinesis: KinesisClient;
  let sqs: SQSClient;
  let ddbClient: DynamoDBClient;
  let deps: ActDeps;
  let inboxUrl = "";
  const stream = "faulty-reefers";

  beforeAll(async () => {
    server = await MotoServer.start();
    const config = server.clientConfig();
    kinesis = kinesisClient(config);
    sqs = new SQSClient(config);
    ddbClient = new DynamoDBClient(config);
    const sns = new SNSClient(config);
    await createAlertsTable(ddbClient, "alerts");
    const topic = await sns.send(new CreateTopicCommand({ Name: "alerts" }));
    // What the engineer receives, counted on a queue subscribed to the topic.
    inboxUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "inbox" }))).QueueUrl ?? "";
    const inboxArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ["QueueArn"] }),
      )
    ).Attributes?.QueueArn;
    await sns.send(
      new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: "sqs", Endpoint: inboxArn }),
    );
    const poison = await sqs.send(new CreateQueueCommand({ QueueName: "poison" }));
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    deps = {
      ddb: DynamoDBDocumentClient.from(ddbClient, {
        marshallOptions: { removeUndefinedValues: true },
      }),
      sns,
      sqs,
      table: "alerts",
      topicArn: topic.TopicArn ?? "",
      poisonQueueUrl: poison.QueueUrl ?? "",
      now: () => Date.UTC(2026, 10, 25, 12, 5),
    };
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  const put = async (record: unknown) =>
    kinesis.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: "MSKU1234565",
        Data: Buffer.from(typeof record === "string" ? record : JSON.stringify(record)),
      }),
    );
  const items = async () =>
    ((await ddbClient.send(new ScanCommand({ TableName: "alerts" }))).Items ?? []).map((item) => ({
      id: item.alert_id?.S ?? "",
      notified: item.notified?.BOOL,
    }));
  const take = async (url: string) => {
    const messages: string[] = [];
    for (;;) {
      const page = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (!page.Messages?.length) return messages;
      messages.push(...page.Messages.map((m) => m.Body ?? ""));
      // Not deleted: hidden for the visibility timeout, longer than a test.
    }
  };

  it("keeps one item and sends one notification per alert; the edge's and the job's window are one", async () => {
    await put(edgeAlert("MSKU1234565", "power_off", 3));
    await put(edgeAlert("MSKU1234565", "power_off", 3, "cleared"));
    await put(edgeAlert("MSKU7654321", "temperature_excursion", 40));
    await put(edgeWindow);
    await put(cloudWindow);
    const run = await drainStream(kinesis, stream, (event) => act(event, deps));
    expect(run.exhausted).toEqual([]);
    const kept = await items();
    expect(kept.map((i) => i.id).sort()).toEqual(
      [
        "MSKU1234565:power_off:3:raised",
        "MSKU1234565:power_off:3:cleared",
        "MSKU7654321:temperature_excursion:40:raised",
        `MSKU1234565:temperature_window:${WINDOW_START_MS}`,
      ].sort(),
    );
    expect(kept.every((i) => i.notified === true)).toBe(true);
    expect(await take(inboxUrl)).toHaveLength(4);
  });

  it("changes nothing and notifies no one when the whole stream is delivered again", async () => {
    const before = await items();
    const run = await drainStream(kinesis, stream, (event) => act(event, deps));
    expect(run.exhausted).toEqual([]);
    expect(await items()).toEqual(before);
    expect(await take(inboxUrl)).toEqual([]);
  });

  it("sends poison records to the poison queue with the reason, and goes on with the rest", async () => {
    await put("not json at all {");
    await put({ some: "object", that: "is no alert" });
    await put(edgeAlert("MSKU1111111", "fans_stopped", 7));
    const run = await drainStream(kinesis, stream, (event) => act(event, deps));
    expect(run.exhausted).toEqual([]);
    const poison = (await take(deps.poisonQueueUrl)).map(
      (m) => JSON.parse(m) as { reason: string },
    );
    expect(poison.map((p) => p.reason)).toEqual([
      expect.stringContaining("not JSON"),
      "neither a reefer.alert.v1 record nor a cloud window record",
    ]);
    expect((await items()).map((i) => i.id)).toContain("MSKU1111111:fans_stopped:7:raised");
    expect(await take(inboxUrl)).toHaveLength(1);
  });

  it("retries a record whose notification failed, from that record, and notifies once", async () => {
    await put(edgeAlert("MSKU2222222", "oxygen_low", 9));
    // SNS refuses (no such topic): the item is kept unnotified and the record reported.
    const broken = { ...deps, topicArn: `${deps.topicArn}-gone` };
    const failing = await drainStream(kinesis, stream, (event) => act(event, broken), {
      retries: 1,
    });
    expect(failing.exhausted).toHaveLength(1);
    expect((await items()).find((i) => i.id === "MSKU2222222:oxygen_low:9:raised")?.notified).toBe(
      false,
    );
    expect(await take(inboxUrl)).toEqual([]);
    // SNS is back: the redelivery notifies the one that was missed, and only it.
    await drainStream(kinesis, stream, (event) => act(event, deps));
    expect((await items()).every((i) => i.notified === true)).toBe(true);
    expect(await take(inboxUrl)).toHaveLength(1);
  });

  it("as deployed: its clients from the environment the stack sets", async () => {
    await put(edgeAlert("MSKU3333333", "sensor_fault", 2));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      ALERTS_TABLE: deps.table,
      ALERTS_TOPIC_ARN: deps.topicArn,
      POISON_QUEUE_URL: deps.poisonQueueUrl,
    });
    const run = await drainStream(kinesis, stream, handler);
    expect(run.exhausted).toEqual([]);
    expect((await items()).map((i) => i.id)).toContain("MSKU3333333:sensor_fault:2:raised");
    expect(await take(inboxUrl)).toHaveLength(1);
  });
});
