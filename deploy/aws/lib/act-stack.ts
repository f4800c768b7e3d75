import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Alias } from "aws-cdk-lib/aws-kms";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import { Runtime, StartingPosition, Tracing } from "aws-cdk-lib/aws-lambda";
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
    const operations = new Topic(this, "OperationsTopic", {
      displayName: "reefer-edge cloud path: alarms",
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
    // Records no retry can process (not JSON, not an alert), with the reason.
    const poison = queue("PoisonRecords");
    // Batches whose retries were spent: where they were in the stream, to replay from.
    const failed = queue("FailedBatches");

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
        retryAttempts: 10,
        maxRecordAge: Duration.days(1),
        // One batch a shard at a time: a container's alerts are acted on in order.
        parallelizationFactor: 1,
        onFailure: new SqsDlq(failed),
      }),
    );

    const alarm = (id: string, props: ConstructorParameters<typeof Alarm>[2]) =>
      new Alarm(this, id, props).addAlarmAction(new SnsAction(operations));
    // Alerts a minute behind: an engineer is told late.
    alarm("IteratorAgeAlarm", {
      metric: fn.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(1) }),
      threshold: 60_000,
      evaluationPeriods: 5,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: "The act Lambda is more than a minute behind faulty-reefers",
    });
    alarm("ErrorsAlarm", {
      metric: fn.metricErrors({ period: Duration.minutes(5) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: "The act Lambda failed",
    });
    alarm("PoisonAlarm", {
      metric: poison.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: "Records on faulty-reefers that are not alerts",
    });
  }
}
