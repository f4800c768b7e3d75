import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { CreateStreamCommand, type KinesisClient, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { kinesisClient } from "../lib/kinesis-client.js";
import { type PublishCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { KinesisStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { act, handler, NOTIFY_LEASE_MS, type ActDeps } from "../lambda/act/handler.js";
import { drainStream } from "./support/event-source.js";
import { createActPeers, MotoServer, requireMoto } from "./support/moto.js";

const moto = requireMoto();
/** How long a watched publish waits for the others before it gives up on them. */
const BARRIER_DEADLINE_MS = 30_000;

/** What an SQS subscriber of the topic receives (raw delivery off): SNS's envelope. */
type SnsEnvelope = {
  Message: string;
  MessageAttributes: Record<string, { Type: string; Value: string } | undefined>;
};

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
    const peers = await createActPeers(config, () => Date.UTC(2026, 10, 25, 12, 5));
    deps = peers.deps;
    ddbClient = peers.ddbClient;
    sqs = deps.sqs;
    // What the engineer receives, counted on a queue subscribed to the topic.
    inboxUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "inbox" }))).QueueUrl ?? "";
    const inboxArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ["QueueArn"] }),
      )
    ).Attributes?.QueueArn;
    await deps.sns.send(
      new SubscribeCommand({ TopicArn: deps.topicArn, Protocol: "sqs", Endpoint: inboxArn }),
    );
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
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
      paged: item.paged?.BOOL,
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

  it("keeps one item per alert and pages each raise and clear; the edge's and the job's window are one item, paging no one", async () => {
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
    const window = `MSKU1234565:temperature_window:${WINDOW_START_MS}`;
    expect(kept.filter((i) => i.id !== window).every((i) => i.notified === true)).toBe(true);
    expect(kept.find((i) => i.id === window)).toMatchObject({ notified: undefined, paged: false });
    const paged = (await take(inboxUrl)).map(
      (body) => (JSON.parse(body) as { Subject: string }).Subject,
    );
    expect(paged.sort()).toEqual(
      [
        "critical: power_off on MSKU1234565",
        "critical: power_off on MSKU1234565",
        "critical: temperature_excursion on MSKU7654321",
      ].sort(),
    );
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
    expect((await items()).every((i) => i.notified === true || i.paged === false)).toBe(true);
    expect(await take(inboxUrl)).toHaveLength(1);
  });

  it("pages again after a crash between SNS and its mark only once the lease ran out, under one dedup key", async () => {
    let now = Date.UTC(2026, 10, 25, 13);
    const clocked: ActDeps = { ...deps, now: () => now };
    const key = "MSKU3333333:oxygen_low:5:raised";
    await put(edgeAlert("MSKU3333333", "oxygen_low", 5));
    // SNS takes the page, then the attempt cannot mark it (DynamoDB fails it; a timeout or a
    // crash there leaves the same state).
    const crashing: ActDeps = {
      ...clocked,
      ddb: {
        send: (command: unknown) =>
          command instanceof UpdateCommand &&
          command.input.UpdateExpression?.startsWith("SET notified =")
            ? Promise.reject(new Error("DynamoDB failed the mark after SNS took the page (test)"))
            : deps.ddb.send(command as never),
      } as unknown as DynamoDBDocumentClient,
    };
    expect(
      (await drainStream(kinesis, stream, (event) => act(event, crashing), { retries: 0 }))
        .exhausted,
    ).toHaveLength(1);
    // A redelivery while the lease runs pages no one, and is retried later.
    now += NOTIFY_LEASE_MS / 2;
    expect(
      (await drainStream(kinesis, stream, (event) => act(event, clocked), { retries: 0 }))
        .exhausted,
    ).toHaveLength(1);
    // The lease ran out: the retry pages again, saying so, under the same key; then it is done.
    now += NOTIFY_LEASE_MS;
    await drainStream(kinesis, stream, (event) => act(event, clocked));
    await drainStream(kinesis, stream, (event) => act(event, clocked));
    const pages = (await take(inboxUrl))
      .map((body) => JSON.parse(body) as SnsEnvelope)
      .filter((page) => page.MessageAttributes.dedup_key?.Value === key);
    expect(pages.map((page) => page.MessageAttributes.attempt?.Value)).toEqual(["1", "2"]);
    expect(pages[0]?.Message).not.toContain("attempt");
    expect(pages[1]?.Message).toContain("(attempt 2: an earlier attempt may have reached you)");
    expect((await items()).find((i) => i.id === key)?.notified).toBe(true);
  });

  /** A batch as Lambda hands it over: records of several containers, in stream order. */
  function batch(alerts: ReturnType<typeof edgeAlert>[]): KinesisStreamEvent {
    return {
      Records: alerts.map((alert, i) => ({
        eventSource: "aws:kinesis",
        eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${stream}`,
        eventID: `shardId-000000000000:${1000 + i}`,
        eventName: "aws:kinesis:record",
        eventVersion: "1.0",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/act",
        awsRegion: "us-east-1",
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: alert.container_id,
          sequenceNumber: String(1000 + i),
          approximateArrivalTimestamp: 0,
          data: Buffer.from(JSON.stringify(alert)).toString("base64"),
        },
      })),
    };
  }

  /**
   * SNS as deployed (moto), watched: which alerts it was asked to publish, in what order, and
   * how many at once. Each publish waits (bounded) until `together` are under way, so a handler
   * that published one at a time is seen as such, whatever the machine's speed.
   */
  function watchedSns(together: number, refuse: (subject: string) => boolean = () => false) {
    const real = deps.sns;
    const seen = { subjects: [] as string[], maxInFlight: 0, inFlight: 0, barrierMet: false };
    let release: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    const sns = {
      send: async (command: PublishCommand) => {
        const subject = command.input.Subject ?? "";
        seen.subjects.push(subject);
        seen.inFlight++;
        seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
        if (seen.inFlight >= together) {
          seen.barrierMet = true;
          release();
        }
        // The fact waited for is the barrier: `together` publishes under way at once. The
        // deadline only keeps a handler that publishes one at a time from hanging the test (it
        // then fails on barrierMet); it is long, so a busy machine's slow DynamoDB calls ahead
        // of the other publishes still meet the barrier.
        await Promise.race([
          barrier,
          new Promise((resolve) => setTimeout(resolve, BARRIER_DEADLINE_MS)),
        ]);
        try {
          if (refuse(subject)) throw new Error(`SNS refused ${subject} (test)`);
          return await real.send(command);
        } finally {
          seen.inFlight--;
        }
      },
    } as unknown as SNSClient;
    return { sns, seen };
  }

  it("acts on a batch's containers at once, each container's alerts in order", async () => {
    const containers = ["MSKU4000001", "MSKU4000002", "MSKU4000003"];
    const alerts = [1, 2, 3].flatMap((n) =>
      containers.map((c) => edgeAlert(c, "temperature_excursion", 100 + n)),
    );
    const { sns, seen } = watchedSns(containers.length);
    let tick = Date.UTC(2026, 10, 25, 13);
    const result = await act(batch(alerts), { ...deps, sns, now: () => tick++ });
    expect(result.batchItemFailures).toEqual([]);
    expect(seen.barrierMet, "the three containers' first alerts were published together").toBe(
      true,
    );
    for (const container of containers) {
      const published = seen.subjects.filter((subject) => subject.endsWith(container));
      expect(published).toHaveLength(3);
    }
    // Per container, acted on in the order of the stream: each item's receipt is stamped by a
    // clock that ticks once a call.
    const scanned = (await ddbClient.send(new ScanCommand({ TableName: "alerts" }))).Items ?? [];
    for (const container of containers) {
      const received = alerts
        .filter((a) => a.container_id === container)
        .map((a) => scanned.find((item) => item.alert_id?.S === a.alert_id)?.received_at?.S);
      expect(received.every(Boolean), container).toBe(true);
      expect([...received].sort(), container).toEqual(received);
    }
    expect(await take(inboxUrl)).toHaveLength(alerts.length);
  });

  it("stops only the failing container, and reports the batch's earliest failure for the retry", async () => {
    const containers = ["MSKU5000001", "MSKU5000002"];
    const alerts = [1, 2, 3].flatMap((n) =>
      containers.map((c) => edgeAlert(c, "oxygen_low", 200 + n)),
    );
    // The second container's second alert cannot be published.
    const refused = alerts[3];
    expect(refused?.container_id).toBe("MSKU5000002");
    const { sns } = watchedSns(1, (subject) => subject.endsWith("MSKU5000002") && refusedOnce());
    let refusals = 0;
    function refusedOnce(): boolean {
      // The first publish for MSKU5000002 succeeds, the second is refused.
      refusals++;
      return refusals === 2;
    }
    const event = batch(alerts);
    const result = await act(event, { ...deps, sns });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "1003" }]);
    const kept = await items();
    const notified = kept
      .filter((i) => i.id.startsWith("MSKU500000"))
      .map((i) => [i.id, i.notified]);
    // The other container went on to its end; the failing one stopped at its failure.
    expect(Object.fromEntries(notified)).toEqual({
      "MSKU5000001:oxygen_low:201:raised": true,
      "MSKU5000001:oxygen_low:202:raised": true,
      "MSKU5000001:oxygen_low:203:raised": true,
      "MSKU5000002:oxygen_low:201:raised": true,
      "MSKU5000002:oxygen_low:202:raised": false,
    });
    await take(inboxUrl);
    // Lambda's retry from the reported record: the rest is done, nothing notified twice.
    const retry = await act({ Records: event.Records.slice(3) }, deps);
    expect(retry.batchItemFailures).toEqual([]);
    expect((await take(inboxUrl)).length).toBe(2);
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
