import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ActDeps } from "../../lambda/act/handler.js";
import { CreateDeliveryStreamCommand, type FirehoseClient } from "@aws-sdk/client-firehose";
import { CreateStreamCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import {
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { MotoServer } from "../../../../test/support/moto.js";
export { LOCAL_AWS, MotoServer, requireMoto } from "../../../../test/support/moto.js";

/** The act Lambda's table as the Act stack makes it: one item per alert, keyed by alert_id. */
export async function createAlertsTable(ddb: DynamoDBClient, name: string): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: "alert_id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "alert_id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}

/**
 * The path's streams and lake as the stacks make them, in moto: `telemetries` and
 * `faulty-reefers` (a shard each), the `lake` bucket, the `backfill` Firehose into it under
 * `readings/`, and the `ledger` bucket under Object Lock.
 */
export async function createPath(clients: {
  kinesis: KinesisClient;
  s3: S3Client;
  firehose: FirehoseClient;
}): Promise<void> {
  for (const name of ["telemetries", "faulty-reefers"])
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await clients.s3.send(new CreateBucketCommand({ Bucket: "lake" }));
  // The audit ledger, locked as the Ingest stack makes it (a day's retention: a test's bucket).
  await clients.s3.send(
    new CreateBucketCommand({ Bucket: "ledger", ObjectLockEnabledForBucket: true }),
  );
  await clients.s3.send(
    new PutObjectLockConfigurationCommand({
      Bucket: "ledger",
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 1 } },
      },
    }),
  );
  await clients.firehose.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: "backfill",
      DeliveryStreamType: "DirectPut",
      ExtendedS3DestinationConfiguration: {
        BucketARN: "arn:aws:s3:::lake",
        RoleARN: "arn:aws:iam::123456789012:role/firehose",
        Prefix: "readings/",
      },
    }),
  );
}

/**
 * The act Lambda's peers as the Act stack makes them, in moto: the alerts table, the alerts
 * topic and the poison queue, and the handler's dependencies on them.
 */
export async function createActPeers(
  config: ReturnType<MotoServer["clientConfig"]>,
  now: () => number = Date.now,
): Promise<{ deps: ActDeps; ddbClient: DynamoDBClient }> {
  const ddbClient = new DynamoDBClient(config);
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  await createAlertsTable(ddbClient, "alerts");
  const topic = await sns.send(new CreateTopicCommand({ Name: "alerts" }));
  const poison = await sqs.send(new CreateQueueCommand({ QueueName: "poison" }));
  return {
    ddbClient,
    deps: {
      ddb: DynamoDBDocumentClient.from(ddbClient, {
        marshallOptions: { removeUndefinedValues: true },
      }),
      sns,
      sqs,
      table: "alerts",
      topicArn: topic.TopicArn ?? "",
      poisonQueueUrl: poison.QueueUrl ?? "",
      now,
    },
  };
}
