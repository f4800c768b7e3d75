import { FirehoseClient } from "@aws-sdk/client-firehose";
import { PutRecordCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kinesisClient } from "../lib/kinesis-client.js";
import { replayFailedBatches, replayRuleErrors } from "../ops/replay.js";
import { createPath, MotoServer, requireMoto } from "./support/moto.js";
import { rawStreamRecords } from "./support/path-records.js";

const moto = requireMoto();

describe.skipIf(moto.skip)("re-driving what the path set aside, against moto", () => {
  let server: MotoServer;
  let kinesis: KinesisClient;
  let sqs: SQSClient;
  let s3: S3Client;
  let firehose: FirehoseClient;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  beforeAll(async () => {
    server = await MotoServer.start();
    const config = server.clientConfig();
    kinesis = kinesisClient(config);
    sqs = new SQSClient(config);
    s3 = new S3Client({ ...config, forcePathStyle: true });
    firehose = new FirehoseClient(config);
    await createPath({ kinesis, s3, firehose });
    await s3.send(new CreateBucketCommand({ Bucket: "rule-errors" }));
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  /** Every record of a stream (its one shard), in order. */
  const streamRecords = (stream: string) => rawStreamRecords(kinesis, stream);

  /** Messages in a queue, visible or taken (a taken one comes back after its timeout). */
  const queueDepth = async (url: string) =>
    Object.values(
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
            ],
          }),
        )
      ).Attributes ?? {},
    ).reduce((sum, value) => sum + Number(value), 0);

  it("puts a failed batch's records into faulty-reefers again, once, and keeps what the stream no longer holds", async () => {
    for (let i = 1; i <= 5; i++)
      await kinesis.send(
        new PutRecordCommand({
          StreamName: "faulty-reefers",
          PartitionKey: `MSKU000000${i}`,
          Data: Buffer.from(JSON.stringify({ alert_id: `alert-${i}` })),
        }),
      );
    const original = await streamRecords("faulty-reefers");
    const { QueueUrl: queue = "" } = await sqs.send(
      new CreateQueueCommand({ QueueName: "failed-batches" }),
    );
    // Lambda's on-failure record for records 2 to 4, and a message that is no such record.
    const failure = (start: string, end: string) =>
      JSON.stringify({
        requestContext: {
          condition: "RecordAgeExceeded",
          functionArn: "arn:aws:lambda:us-east-1:123456789012:function:act",
        },
        version: "1.0",
        KinesisBatchInfo: {
          shardId: "shardId-000000000000",
          startSequenceNumber: start,
          endSequenceNumber: end,
          batchSize: 3,
          streamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/faulty-reefers",
        },
      });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue,
        MessageBody: failure(original[1]?.sequence ?? "", original[3]?.sequence ?? ""),
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "{}" }));

    const report = await replayFailedBatches({ sqs, kinesis, queueUrl: queue, log });
    expect(report).toMatchObject({ replayed: 1, records: 3 });
    expect(report.kept).toEqual([
      {
        source: expect.stringContaining("FailedBatches message") as string,
        reason: expect.stringContaining("not a Kinesis batch failure") as string,
      },
    ]);
    const after = await streamRecords("faulty-reefers");
    expect(after.slice(5).map((r) => [r.key, r.data])).toEqual(
      original.slice(1, 4).map((r) => [r.key, r.data]),
    );
    // The re-driven message is gone; the one that could not be is kept for a person.
    expect(await queueDepth(queue)).toBe(1);
    expect(lines).toContainEqual(expect.stringContaining("3 records of faulty-reefers"));
  });

  it("delivers a rule's failed messages again as the rule would, removes them, and a second run finds nothing", async () => {
    const reading = {
      container_id: "MSKU1234565",
      gateway_id: "gw-0001",
      seq: 41,
      measurement_time: "2026-11-25T12:00:00.000Z",
    };
    const errorMessage = (ruleName: string, topic: string, payload: unknown) =>
      JSON.stringify({
        ruleName,
        topic,
        cloudwatchTraceId: "trace",
        clientId: "gw-0001",
        base64OriginalPayload: Buffer.from(JSON.stringify(payload)).toString("base64"),
        failures: [{ failedAction: "KinesisAction", errorMessage: "throttled" }],
      });
    const put = (key: string, body: string) =>
      s3.send(new PutObjectCommand({ Bucket: "rule-errors", Key: key, Body: body }));
    await put(
      "rule-errors/reefer_telemetry_to_kinesis/dt/reefer/gw-0001/MSKU1234565/telemetry/1-a.json",
      errorMessage(
        "reefer_telemetry_to_kinesis",
        "dt/reefer/gw-0001/MSKU1234565/telemetry",
        reading,
      ),
    );
    await put(
      "rule-errors/reefer_backfill_to_lake/dt/reefer/gw-0001/MSKU1234565/backfill/2-b.json",
      errorMessage("reefer_backfill_to_lake", "dt/reefer/gw-0001/MSKU1234565/backfill", {
        schema: "reefer.backfill.v1",
        readings: [
          { ...reading, seq: 1 },
          { ...reading, seq: 2 },
        ],
      }),
    );
    await put("rule-errors/reefer_gone/x/3-c.json", errorMessage("reefer_gone", "x", {}));
    await put("rule-errors/reefer_telemetry_to_kinesis/x/4-d.json", "not json");
    const targets = { kinesis, firehose };

    const first = await replayRuleErrors({ s3, targets, bucket: "rule-errors", log });
    expect(first).toMatchObject({ replayed: 2, records: 3 });
    expect(first.kept.map((k) => k.reason).sort()).toEqual([
      "its rule reefer_gone is not in the rule table",
      "not JSON: no rule error message",
    ]);
    const live = await streamRecords("telemetries");
    expect(live.map((r) => [r.key, JSON.parse(r.data) as unknown])).toEqual([
      ["MSKU1234565", reading],
    ]);
    const lake = await s3.send(new ListObjectsV2Command({ Bucket: "lake", Prefix: "readings/" }));
    const text = await Promise.all(
      (lake.Contents ?? []).map(
        async (o) =>
          (await (
            await s3.send(new GetObjectCommand({ Bucket: "lake", Key: o.Key }))
          ).Body?.transformToString()) ?? "",
      ),
    );
    expect(
      text
        .join("")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([1, 2]);

    const second = await replayRuleErrors({ s3, targets, bucket: "rule-errors", log });
    expect(second).toMatchObject({ replayed: 0, records: 0 });
    expect(second.kept).toHaveLength(2);
    expect(await streamRecords("telemetries")).toHaveLength(1);
  });
});
