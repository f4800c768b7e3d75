import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Alias } from "aws-cdk-lib/aws-kms";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import { Runtime, StartingPosition, Tracing, type IFunction } from "aws-cdk-lib/aws-lambda";
import { KinesisEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { acknowledge } from "./nag.js";
import { projectRoot } from "./project-root.js";
import { join } from "node:path";

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

    const fn = new NodejsFunction(this, "Act", {
      entry: join(projectRoot(), "lambda/act/handler.ts"),
      handler: "handler",
      runtime: Runtime.NODEJS_22_X,
      memorySize: 256,
      timeout: Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      logGroup: new LogGroup(this, "ActLogs", { retention: RetentionDays.THREE_MONTHS }),
      environment: {
        ALERTS_TABLE: this.table.tableName,
        ALERTS_TOPIC_ARN: this.alerts.topicArn,
        POISON_QUEUE_URL: poison.queueUrl,
      },
      // The pinned AWS SDK versions of package.json are bundled, not the runtime's own.
      bundling: { externalModules: [], format: OutputFormat.CJS, minify: true, target: "node22" },
    });
    this.fn = fn;
    this.table.grant(fn, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem");
    acknowledge(fn, {
      L1:
        "Node 22 on purpose: the runtime of the gateways and the line the pinned AWS SDK " +
        "versions support; moving to 24 is a deliberate upgrade, not a drift",
    });
    acknowledge(fn.role ?? fn, {
      "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
        "Logs only: CreateLogStream and PutLogEvents, as every Lambda needs",
      "IAM5[Resource::*]": "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource",
    });
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
