import { type FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import { type KinesisClient, PutRecordCommand } from "@aws-sdk/client-kinesis";
import type { S3Client } from "@aws-sdk/client-s3";
import { writeToLedger } from "../lambda/ledger/ledger.js";
import type { IngestRule } from "../lib/rule-table.js";
import { substitute } from "./iot-sql.js";

/** Where records are put: the stream and delivery-stream names are the rule table's. */
export interface RouterTargets {
  readonly kinesis: KinesisClient;
  readonly firehose: FirehoseClient;
  /** Physical names for the table's logical ones (a deployed stack prefixes them). */
  readonly streamNames?: Partial<Record<string, string>>;
  /** The audit ledger: its bucket, written as the ledger Lambda writes it. */
  readonly ledger?: { readonly s3: S3Client; readonly bucket: string };
}

/**
 * A rule's action, as AWS IoT takes it: each record into the rule's Kinesis stream under the
 * topic's partition key, or into its Firehose in batch mode. What the local router does with a
 * message, and what a replay does with a message a deployed rule failed to deliver.
 */
export async function deliver(
  targets: RouterTargets,
  rule: IngestRule,
  topic: string,
  records: unknown[],
): Promise<void> {
  const target = rule.target;
  const encode = (record: unknown) => Buffer.from(JSON.stringify(record));
  if (target.kind === "kinesis") {
    for (const record of records) {
      await targets.kinesis.send(
        new PutRecordCommand({
          StreamName: targets.streamNames?.[target.stream] ?? target.stream,
          PartitionKey: substitute(target.partitionKey, topic),
          Data: encode(record),
        }),
      );
    }
    return;
  }
  if (target.kind === "ledger") {
    if (!targets.ledger) throw new Error(`rule ${rule.name}: no ledger bucket to write to`);
    for (const record of records)
      await writeToLedger(
        targets.ledger.s3,
        targets.ledger.bucket,
        record as Record<string, unknown>,
      );
    return;
  }
  if (target.kind !== "firehose") throw new Error(`rule ${rule.name}: nothing to deliver to`);
  // Firehose batch mode: one record per element, up to 500 a call (PutRecordBatch's limit).
  const name = targets.streamNames?.[target.deliveryStream] ?? target.deliveryStream;
  for (let i = 0; i < records.length; i += 500) {
    const batch = records.slice(i, i + 500);
    const result = await targets.firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: batch.map((record) => ({
          Data: Buffer.from(JSON.stringify(record) + target.separator),
        })),
      }),
    );
    if ((result.FailedPutCount ?? 0) > 0)
      throw new Error(`${String(result.FailedPutCount)} of ${batch.length} records refused`);
  }
}
