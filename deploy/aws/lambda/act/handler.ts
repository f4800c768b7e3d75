import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type {
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from "aws-lambda";
import { parseAlert, PoisonRecordError, type ActAlert } from "./alert.js";

export interface ActDeps {
  readonly ddb: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly table: string;
  readonly topicArn: string;
  readonly poisonQueueUrl: string;
  readonly now: () => number;
}

/**
 * The act Lambda on faulty-reefers: one DynamoDB item and one notification per alert, however
 * often Kinesis delivers it (at-least-once, and a partial-batch retry re-delivers what followed
 * the failure too).
 *
 * - Idempotent on the alert's key: the item is created only if absent; the engineer is notified
 *   only while the item says `notified: false`, and it is set true after SNS accepted.
 * - Between SNS and that mark, a lease: an attempt claims the item for NOTIFY_LEASE_MS before it
 *   publishes, so a second delivery meanwhile (a retry of a slow batch) publishes nothing and is
 *   retried later. A crash in that window leaves the lease to expire, and the retry publishes
 *   again: never zero pages. Each page carries the alert's key as `dedup_key` (a pager's
 *   deduplication id, as PagerDuty's Events API and Opsgenie's alias take one) and its
 *   attempt number; a second attempt says that an earlier one may have arrived.
 * - Paged when an alert is raised and when it clears; windows are kept in the table only.
 * - A poison record (not JSON, not an alert) goes to the poison queue with why, and processing
 *   goes on: retrying it would block its shard until the records expire.
 * - A transient failure (DynamoDB, SNS) stops that container's records there, and the batch's
 *   earliest failure is reported (ReportBatchItemFailures): Lambda retries from it, in order;
 *   the on-failure destination gets the batch once the record is too old to retry.
 */
export async function act(
  event: KinesisStreamEvent,
  deps: ActDeps,
): Promise<KinesisStreamBatchResponse> {
  // A batch's containers are acted on concurrently, each container's records in order (its
  // partition key): an alert storm of many containers takes one round trip per alert of the
  // busiest container, not of the whole batch. The SDK's connection pool (50 sockets a client)
  // bounds the calls in flight.
  const byContainer = new Map<string, KinesisStreamRecord[]>();
  for (const record of event.Records) {
    const key = record.kinesis.partitionKey;
    byContainer.set(key, [...(byContainer.get(key) ?? []), record]);
  }
  const failed = await Promise.all(
    [...byContainer.values()].map((records) => actInOrder(records, deps)),
  );
  // Lambda retries from the lowest sequence number reported: the earliest failure in the batch.
  // What other containers did after it is delivered again, and changes nothing (idempotent).
  const position = new Map(event.Records.map((record, i) => [record, i]));
  const first = failed
    .filter((record): record is KinesisStreamRecord => record !== null)
    .sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0))[0];
  return {
    batchItemFailures: first ? [{ itemIdentifier: first.kinesis.sequenceNumber }] : [],
  };
}

/** One container's records in order; the record it stopped at, or null when all were done. */
async function actInOrder(
  records: readonly KinesisStreamRecord[],
  deps: ActDeps,
): Promise<KinesisStreamRecord | null> {
  for (const record of records) {
    const data = Buffer.from(record.kinesis.data, "base64").toString("utf8");
    try {
      await actOn(parseAlert(data), deps);
    } catch (error) {
      if (error instanceof PoisonRecordError) {
        try {
          await deps.sqs.send(
            new SendMessageCommand({
              QueueUrl: deps.poisonQueueUrl,
              MessageBody: JSON.stringify({
                reason: error.message,
                eventSourceARN: record.eventSourceARN,
                partitionKey: record.kinesis.partitionKey,
                sequenceNumber: record.kinesis.sequenceNumber,
                data: record.kinesis.data,
              }),
            }),
          );
          continue;
        } catch {
          // The poison queue itself failed: retry this record later rather than lose it.
        }
      }
      console.error(
        JSON.stringify({
          msg: "record failed; the batch is retried from it",
          sequenceNumber: record.kinesis.sequenceNumber,
          partitionKey: record.kinesis.partitionKey,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
      return record;
    }
  }
  return null;
}

/**
 * Windows (the edge's temperature_window and the job's record of the same window) are kept in
 * the table and page no one: a container over its threshold for a while closes one a minute, and
 * its temperature_excursion alert pages when it is raised and when it clears. The table is the
 * digest of windows.
 */
const KEPT_NOT_PAGED = new Set(["temperature_window"]);

async function actOn(alert: ActAlert, deps: ActDeps): Promise<void> {
  if (KEPT_NOT_PAGED.has(alert.alertType)) {
    await createItem(alert, deps, false);
    return;
  }
  const created = await createItem(alert, deps, true);
  if (!created) {
    const existing = await deps.ddb.send(
      new GetCommand({ TableName: deps.table, Key: { alert_id: alert.key }, ConsistentRead: true }),
    );
    if (existing.Item?.notified === true) return; // a duplicate: done before
  }
  const attempt = await claim(alert, deps);
  if (attempt === null) return; // notified meanwhile
  try {
    await publish(alert, attempt, deps);
  } catch (error) {
    // SNS said no: nothing was paged, so the next delivery may try at once.
    await deps.ddb
      .send(
        new UpdateCommand({
          TableName: deps.table,
          Key: { alert_id: alert.key },
          UpdateExpression: "REMOVE notifying_until",
        }),
      )
      .catch(() => undefined); // the lease then runs out by itself
    throw error;
  }
  await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.table,
      Key: { alert_id: alert.key },
      UpdateExpression: "SET notified = :true, notified_at = :at REMOVE notifying_until",
      ExpressionAttributeValues: { ":true": true, ":at": new Date(deps.now()).toISOString() },
    }),
  );
}

/** Pages the alert: its key as the pager's deduplication id, and which attempt this is. */
async function publish(alert: ActAlert, attempt: number, deps: ActDeps): Promise<void> {
  await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.topicArn,
      Subject: `${alert.severity}: ${alert.alertType} on ${alert.containerId}`.slice(0, 100),
      Message:
        describe(alert) +
        (attempt > 1 ? `\n(attempt ${attempt}: an earlier attempt may have reached you)` : ""),
      MessageAttributes: {
        severity: { DataType: "String", StringValue: alert.severity },
        alert_type: { DataType: "String", StringValue: alert.alertType },
        dedup_key: { DataType: "String", StringValue: alert.key },
        attempt: { DataType: "Number", StringValue: String(attempt) },
      },
    }),
  );
}

/**
 * How long an attempt holds an alert while it pages: past the function's timeout (30 s), so a
 * lease outlives the attempt that took it, and a crashed attempt's lease is gone by the retry
 * after next.
 */
export const NOTIFY_LEASE_MS = 60_000;

/** The alert is being notified by another attempt, whose lease has not run out: retry later. */
export class NotifyingElsewhereError extends Error {
  override name = "NotifyingElsewhereError";
}

/**
 * Claims the alert for one attempt at paging: its attempt number, or null when it was notified
 * meanwhile. Throws NotifyingElsewhereError while another attempt's lease runs.
 */
async function claim(alert: ActAlert, deps: ActDeps): Promise<number | null> {
  const now = deps.now();
  try {
    const claimed = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: { alert_id: alert.key },
        UpdateExpression:
          "SET notifying_until = :until, notify_attempts = if_not_exists(notify_attempts, :zero) + :one",
        ConditionExpression:
          "notified = :false AND (attribute_not_exists(notifying_until) OR notifying_until < :now)",
        ExpressionAttributeValues: {
          ":until": now + NOTIFY_LEASE_MS,
          ":now": now,
          ":zero": 0,
          ":one": 1,
          ":false": false,
        },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(claimed.Attributes?.notify_attempts ?? 1);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const item = await deps.ddb.send(
      new GetCommand({ TableName: deps.table, Key: { alert_id: alert.key }, ConsistentRead: true }),
    );
    if (item.Item?.notified === true) return null;
    throw new NotifyingElsewhereError(
      `${alert.key} is being notified by another attempt until ${new Date(Number(item.Item?.notifying_until)).toISOString()}`,
    );
  }
}

/** True when this call created the item; false when it existed (a re-delivery). */
async function createItem(alert: ActAlert, deps: ActDeps, paged: boolean): Promise<boolean> {
  try {
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.table,
        Item: {
          alert_id: alert.key,
          container_id: alert.containerId,
          gateway_id: alert.gatewayId ?? undefined,
          alert_type: alert.alertType,
          severity: alert.severity,
          state: alert.state,
          source: alert.source,
          record: alert.record,
          received_at: new Date(deps.now()).toISOString(),
          // A paged alert is marked notified once SNS took it; a window is only kept.
          ...(paged ? { notified: false } : { paged: false }),
        },
        ConditionExpression: "attribute_not_exists(alert_id)",
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

function describe(alert: ActAlert): string {
  const r = alert.record;
  const lines = [
    `${alert.alertType} (${alert.state}, ${alert.severity}) on container ${alert.containerId}` +
      (alert.gatewayId ? ` via gateway ${alert.gatewayId}` : "") +
      ` (${alert.source === "cloud" ? "the cloud's window job" : "the edge agent"})`,
  ];
  for (const field of [
    "window_start",
    "window_end",
    "readings_over",
    "max_temperature",
    "alert_time",
    "since",
    "value",
    "limit",
    "field",
    "devices",
  ])
    if (r[field] !== undefined && r[field] !== null)
      lines.push(`${field}: ${JSON.stringify(r[field])}`);
  return lines.join("\n");
}

/** Clients from the environment the stack sets; AWS_ENDPOINT_URL points them at stand-ins. */
function depsFromEnvironment(): ActDeps {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`act: ${name} is not set`);
    return value;
  };
  return {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    sns: new SNSClient({}),
    sqs: new SQSClient({}),
    table: need("ALERTS_TABLE"),
    topicArn: need("ALERTS_TOPIC_ARN"),
    poisonQueueUrl: need("POISON_QUEUE_URL"),
    now: Date.now,
  };
}

let deps: ActDeps | undefined;

export const handler = (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> =>
  act(event, (deps ??= depsFromEnvironment()));
