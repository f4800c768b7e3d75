import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import type {
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from "aws-lambda";

export type KinesisHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

/**
 * Lambda's Kinesis event source mapping, in small, for tests: reads every shard of a stream
 * from its start, hands the handler batches in the event format Lambda uses, and on a reported
 * failure reads again from that record (ReportBatchItemFailures), up to `retries` times; what
 * exhausts them is returned, as the on-failure destination would receive it.
 */
export async function drainStream(
  kinesis: KinesisClient,
  stream: string,
  handler: KinesisHandler,
  options: { batchSize?: number; retries?: number } = {},
): Promise<{ batches: number; exhausted: string[] }> {
  const batchSize = options.batchSize ?? 100;
  const retries = options.retries ?? 3;
  const streamARN = `arn:aws:kinesis:us-east-1:123456789012:stream/${stream}`;
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  let batches = 0;
  const exhausted: string[] = [];
  for (const shard of Shards) {
    const shardId = shard.ShardId ?? "";
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    let attempts = 0;
    while (iterator) {
      const page = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }),
      );
      const records = page.Records ?? [];
      if (records.length === 0) break; // caught up: the test put everything before draining
      batches++;
      const event: KinesisStreamEvent = {
        Records: records.map((r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: "1.0",
            partitionKey: r.PartitionKey ?? "",
            sequenceNumber: r.SequenceNumber ?? "",
            data: Buffer.from(r.Data ?? new Uint8Array()).toString("base64"),
            approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
          },
          eventSource: "aws:kinesis",
          eventVersion: "1.0",
          eventID: `${shardId}:${r.SequenceNumber ?? ""}`,
          eventName: "aws:kinesis:record",
          invokeIdentityArn: "arn:aws:iam::123456789012:role/act",
          awsRegion: "us-east-1",
          eventSourceARN: streamARN,
        })),
      };
      const response = await handler(event);
      const failed = response.batchItemFailures[0]?.itemIdentifier;
      if (failed === undefined) {
        attempts = 0;
        iterator = page.NextShardIterator;
        continue;
      }
      if (++attempts > retries) {
        exhausted.push(failed);
        attempts = 0;
        iterator = page.NextShardIterator;
        continue;
      }
      iterator = (
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: stream,
            ShardId: shardId,
            ShardIteratorType: "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber: failed,
          }),
        )
      ).ShardIterator;
    }
  }
  return { batches, exhausted };
}
