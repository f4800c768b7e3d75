import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Alias } from "aws-cdk-lib/aws-kms";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import { StartingPosition, type IFunction } from "aws-cdk-lib/aws-lambda";
import { KinesisEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { nodeLambda } from "./node-lambda.js";

export interface ActProps extends StackProps {
  readonly faultyReefers: Stream;
}

/**
 * Acting on faulty-reefers: a Lambda that notifies the engineer on duty (SNS) and keeps one
 * DynamoDB item per alert for the business process, idempotent on the alert's id.
 */
export class ActStack extends Stack {
  readonly table: Table;
  readonly alerts: Topic;
  readonly fn: IFunction;
  /** Records no retry can process (not JSON, not an alert), with the reason. */
  readonly poison: Queue;
  /** Batches given up on: where they were in the stream, to replay from. */
  readonly failedBatches: Queue;

  constructor(scope: Construct, id: string, props: ActProps) {
    super(scope, id, props);
    this.table = new Table(this, "Alerts", {
      partitionKey: { name: "alert_id", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const snsKey = Alias.fromAliasName(this, "SnsKey", "alias/aws/sns");
    this.alerts = new Topic(this, "AlertsTopic", {
      displayName: "Reefer alerts",
      masterKey: snsKey,
      enforceSSL: true,
    });
    const queue = (name: string) => {
      const dlq = new Queue(this, `${name}Dlq`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      return new Queue(this, name, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        deadLetterQueue: { queue: dlq, maxReceiveCount: 5 },
      });
    };
    const poison = queue("PoisonRecords");
    const failed = queue("FailedBatches");
    this.poison = poison;
    this.failedBatches = failed;

    const fn = nodeLambda(this, "Act", {
      entry: "lambda/act/handler.ts",
      timeout: Duration.seconds(30),
      logRetention: RetentionDays.THREE_MONTHS,
      environment: {
        ALERTS_TABLE: this.table.tableName,
        ALERTS_TOPIC_ARN: this.alerts.topicArn,
        POISON_QUEUE_URL: poison.queueUrl,
      },
    });
    this.fn = fn;
    this.table.grant(fn, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem");
    this.alerts.grantPublish(fn);
    poison.grantSendMessages(fn);
    fn.addEventSource(
      new KinesisEventSource(props.faultyReefers, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        // Retried until the record is a day old, however many attempts that takes: a count
        // spends itself in minutes on an outage of DynamoDB or SNS and skips the alerts. The
        // iterator-age alarm pages someone within minutes; only then does a day run out, into
        // FailedBatches (alarmed too), which keeps where the batch was in the stream.
        retryAttempts: -1,
        maxRecordAge: Duration.days(1),
        // Ten batches of a shard at once: Lambda keeps the order per partition key (the
        // container), and the handler acts on a batch's containers concurrently, so an alert
        // storm is worked off in seconds, not tens of minutes (deploy/aws/README.md, sizing).
        parallelizationFactor: 10,
        onFailure: new SqsDlq(failed),
      }),
    );
  }
}
