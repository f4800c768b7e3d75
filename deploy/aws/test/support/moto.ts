import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateDeliveryStreamCommand, type FirehoseClient } from "@aws-sdk/client-firehose";
import { CreateStreamCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
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
 * `faulty-reefers` (a shard each), the `lake` bucket, and the `backfill` Firehose into it under
 * `readings/`.
 */
export async function createPath(clients: {
  kinesis: KinesisClient;
  s3: S3Client;
  firehose: FirehoseClient;
}): Promise<void> {
  for (const name of ["telemetries", "faulty-reefers"])
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await clients.s3.send(new CreateBucketCommand({ Bucket: "lake" }));
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
