import { FirehoseClient } from "@aws-sdk/client-firehose";
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
} from "@aws-sdk/client-kinesis";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { parseArgs } from "node:util";
import { INGEST_RULES, type IngestRule } from "../lib/rule-table.js";
import { deliver, type RouterTargets } from "../router/deliver.js";
import { compileRule } from "../router/iot-sql.js";

/**
 * Re-driving what the path set aside, so that nothing it could not deliver stays undelivered:
 *
 * - `FailedBatches`: where in `faulty-reefers` the act Lambda gave up (Lambda's on-failure
 *   record names the shard and the first and last sequence numbers). The records still in the
 *   stream (7 days) are put again, each under its own partition key; the act Lambda is
 *   idempotent on the alert's id, so what it did act on before changes nothing.
 * - the rules' error files (`rule-errors/<rule>/...` in the rule-errors bucket): each is the
 *   message a rule's action failed to deliver, whole. It is delivered again as the rule would,
 *   through the same rule table (WHERE, SELECT VALUE, partition key).
 *
 * Each source is removed only once what it names is delivered (the SQS message deleted, the S3
 * object deleted): a second run finds nothing, and a run cut short repeats at most a put, which
 * the lake folds by (container_id, seq) and the act Lambda by alert_id. What cannot be
 * re-driven (records gone from the stream, a file that is no error message, a rule the table no
 * longer has) is kept and reported, and the exit code says so.
 */

type Log = (line: string) => void;

export interface ReplayReport {
  /** Sources re-driven and removed. */
  readonly replayed: number;
  /** Records put again. */
  readonly records: number;
  /** Sources kept, each with why. */
  readonly kept: readonly { readonly source: string; readonly reason: string }[];
}

/** What Lambda's on-failure destination receives for a Kinesis batch, as far as read here. */
interface KinesisBatchFailure {
  readonly KinesisBatchInfo?: {
    readonly shardId?: string;
    readonly startSequenceNumber?: string;
    readonly endSequenceNumber?: string;
    readonly streamArn?: string;
  };
}

export async function replayFailedBatches(options: {
  readonly sqs: SQSClient;
  readonly kinesis: KinesisClient;
  readonly queueUrl: string;
  readonly log: Log;
}): Promise<ReplayReport> {
  const { sqs, kinesis, queueUrl, log } = options;
  let replayed = 0;
  let records = 0;
  const kept: { source: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (;;) {
    const page = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        // Long enough to re-drive a batch; a run cut short lets the message reappear for the next.
        VisibilityTimeout: 300,
      }),
    );
    const messages = (page.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ""));
    if (messages.length === 0) break;
    for (const message of messages) {
      seen.add(message.MessageId ?? "");
      const source = `FailedBatches message ${message.MessageId ?? "?"}`;
      let info: KinesisBatchFailure["KinesisBatchInfo"];
      try {
        info = (JSON.parse(message.Body ?? "") as KinesisBatchFailure).KinesisBatchInfo;
      } catch {
        info = undefined;
      }
      const stream = info?.streamArn?.split(":stream/")[1];
      if (!info?.shardId || !info.startSequenceNumber || !info.endSequenceNumber || !stream) {
        kept.push({ source, reason: "not a Kinesis batch failure record (no KinesisBatchInfo)" });
        continue;
      }
      const batch = await readRange(
        kinesis,
        stream,
        info.shardId,
        info.startSequenceNumber,
        info.endSequenceNumber,
      );
      if (!batch.complete) {
        kept.push({
          source,
          reason: `${stream} ${info.shardId} no longer holds ${info.startSequenceNumber}..${info.endSequenceNumber} (past the stream's retention?)`,
        });
        continue;
      }
      for (const record of batch.records) {
        await kinesis.send(
          new PutRecordCommand({
            StreamName: stream,
            PartitionKey: record.partitionKey,
            Data: record.data,
          }),
        );
      }
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      log(`${source}: ${batch.records.length} records of ${stream} ${info.shardId} put again`);
      replayed++;
      records += batch.records.length;
    }
  }
  return { replayed, records, kept };
}

/** The records of one shard from `start` to `end`, both included, in order. */
async function readRange(
  kinesis: KinesisClient,
  stream: string,
  shardId: string,
  start: string,
  end: string,
): Promise<{ complete: boolean; records: { partitionKey: string; data: Uint8Array }[] }> {
  const records: { partitionKey: string; data: Uint8Array }[] = [];
  let iterator: string | undefined;
  try {
    iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shardId,
          ShardIteratorType: "AT_SEQUENCE_NUMBER",
          StartingSequenceNumber: start,
        }),
      )
    ).ShardIterator;
  } catch {
    return { complete: false, records };
  }
  let first = true;
  while (iterator) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
    for (const record of page.Records ?? []) {
      const sequence = BigInt(record.SequenceNumber ?? "0");
      // The range's first record must still be there: an older one gone means records lost.
      if (first && sequence !== BigInt(start)) return { complete: false, records };
      first = false;
      if (sequence > BigInt(end)) return { complete: true, records };
      records.push({
        partitionKey: record.PartitionKey ?? "",
        data: record.Data ?? new Uint8Array(),
      });
      if (sequence === BigInt(end)) return { complete: true, records };
    }
    if (!page.Records?.length && (page.MillisBehindLatest ?? 0) === 0) break;
    iterator = page.NextShardIterator;
  }
  return { complete: false, records };
}

/** What a rule's S3 error action writes, as far as read here. */
interface RuleErrorMessage {
  readonly ruleName?: string;
  readonly topic?: string;
  readonly base64OriginalPayload?: string;
}

export async function replayRuleErrors(options: {
  readonly s3: S3Client;
  readonly targets: RouterTargets;
  readonly bucket: string;
  readonly prefix?: string;
  readonly rules?: readonly IngestRule[];
  readonly log: Log;
}): Promise<ReplayReport> {
  const { s3, targets, bucket, log } = options;
  const prefix = options.prefix ?? "rule-errors/";
  const rules = new Map(
    (options.rules ?? INGEST_RULES).map((rule) => [rule.name, compileRule(rule)]),
  );
  let replayed = 0;
  let records = 0;
  const kept: { source: string; reason: string }[] = [];
  let token: string | undefined;
  do {
    const listing = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of listing.Contents ?? []) {
      const key = object.Key ?? "";
      const source = `s3://${bucket}/${key}`;
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      let message: RuleErrorMessage;
      try {
        message = JSON.parse((await body.Body?.transformToString()) ?? "") as RuleErrorMessage;
      } catch {
        kept.push({ source, reason: "not JSON: no rule error message" });
        continue;
      }
      const compiled = rules.get(message.ruleName ?? "");
      if (!compiled || !message.topic || message.base64OriginalPayload === undefined) {
        kept.push({
          source,
          reason: compiled
            ? "no topic or original payload in it"
            : `its rule ${message.ruleName ?? "(none)"} is not in the rule table`,
        });
        continue;
      }
      const text = Buffer.from(message.base64OriginalPayload, "base64").toString("utf8");
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined;
      }
      const selected = compiled.evaluate(payload, message.topic);
      if (selected.length > 0) await deliver(targets, compiled.rule, message.topic, selected);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      log(`${source}: ${selected.length} records delivered again by ${compiled.rule.name}`);
      replayed++;
      records += selected.length;
    }
    token = listing.IsTruncated ? listing.NextContinuationToken : undefined;
  } while (token);
  return { replayed, records, kept };
}

const USAGE = `npm run replay -- (--failed-batches QUEUE_URL | --rule-errors BUCKET [--prefix P] [--ledger BUCKET]) [--region R] [--endpoint URL]
  --failed-batches   the act Lambda's FailedBatches queue: put each batch's records into faulty-reefers again
  --rule-errors      the rule-errors bucket: deliver each failed message again as its rule would
  --ledger           the audit ledger bucket, for the audit rule's failed messages (else they are kept)
  Credentials and region come from the AWS SDK's usual chain.`;

/** `npm run replay`: the exit code (0 all re-driven, 1 something kept, 2 usage). */
export async function main(args: string[], out: Log, err: Log): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "failed-batches": { type: "string" },
      "rule-errors": { type: "string" },
      prefix: { type: "string" },
      ledger: { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
    },
  });
  const queue = values["failed-batches"];
  const bucket = values["rule-errors"];
  if ((queue === undefined) === (bucket === undefined)) {
    err(USAGE);
    return 2;
  }
  const config = {
    ...(values.region ? { region: values.region } : {}),
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
  };
  const kinesis = new KinesisClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: Boolean(values.endpoint) });
  const report = queue
    ? await replayFailedBatches({ sqs: new SQSClient(config), kinesis, queueUrl: queue, log: out })
    : await replayRuleErrors({
        s3,
        targets: {
          kinesis,
          firehose: new FirehoseClient(config),
          ...(values.ledger !== undefined && { ledger: { s3, bucket: values.ledger } }),
        },
        bucket: bucket ?? "",
        prefix: values.prefix,
        log: out,
      });
  out(`replayed ${report.replayed} (${report.records} records); kept ${report.kept.length}`);
  for (const { source, reason } of report.kept) err(`kept ${source}: ${reason}`);
  return report.kept.length > 0 ? 1 : 0;
}

if (process.argv[1]?.endsWith("replay.js")) {
  main(
    process.argv.slice(2),
    (line) => process.stdout.write(line + "\n"),
    (line) => process.stderr.write(line + "\n"),
  ).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`replay: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
