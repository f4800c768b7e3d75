import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnLogging } from "aws-cdk-lib/aws-iot";
import { Key } from "aws-cdk-lib/aws-kms";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { acknowledge } from "./nag.js";
import { QUARANTINE_NAMESPACE, type IngestRule, type StreamName } from "./rule-table.js";

export interface OperationsProps extends StackProps {
  readonly streams: Readonly<Record<StreamName, Stream>>;
  /** The IoT rules: each gets its own failure alarms, and a quarantine rule its count's. */
  readonly rules: readonly IngestRule[];
  /** The Firehoses into the lake, by name. */
  readonly deliveryStreamNames: readonly string[];
  /** How long a Firehose buffers before it writes (its freshness is judged against it). */
  readonly deliveryBufferSeconds: number;
  readonly flinkApplicationName: string;
  readonly act: {
    readonly fn: IFunction;
    readonly poison: Queue;
    readonly failedBatches: Queue;
  };
  /** The lake's daily compaction into the hourly table (hourly-compaction.ts). */
  readonly compaction: IFunction;
}

/** Where AWS IoT writes its logs (a fixed name: the service chooses it). */
export const IOT_LOG_GROUP = "AWSIotLogsV2";

/**
 * Watching the cloud path: every alarm, the topic they page through, and AWS IoT's own logs.
 *
 * The topic is encrypted with a key of this stack's, whose policy lets CloudWatch use it: an
 * alarm cannot publish to a topic under the AWS-managed `alias/aws/sns`, whose policy nobody can
 * change, so alarms on such a topic go off and tell no one. Each alarm has a fixed name, and
 * deploy/aws/README.md's alarm catalogue says what it means and what to do (a test holds the
 * two together).
 */
export class OperationsStack extends Stack {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id, props);
    const key = new Key(this, "OperationsKey", {
      description: "reefer-edge: the operations topic's key, usable by CloudWatch alarms",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublishToTheOperationsTopic",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        // Only for alarms of this account.
        conditions: { StringEquals: { "aws:SourceAccount": this.account } },
      }),
    );
    this.topic = new Topic(this, "OperationsTopic", {
      displayName: "reefer-edge cloud path: alarms",
      masterKey: key,
      enforceSSL: true,
    });

    // AWS IoT's logging is one setting an account and region, into a log group whose name AWS
    // fixes: the unstaged app owns it, or the one stage given `-c iotLogging=true`; any other
    // stage would fight over it (and fail to create the log group).
    const iotLogging: unknown = this.node.tryGetContext("iotLogging");
    if (StageNames.of(this).stage === "" ? iotLogging !== "false" : iotLogging === "true")
      this.iotLogging();

    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      evaluationPeriods = 1,
    ) => {
      const made = new Alarm(this, name, {
        alarmName: StageNames.of(this).dash(`reefer-${name}`),
        alarmDescription: `${description} (deploy/aws/README.md, alarm catalogue)`,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      made.addAlarmAction(new SnsAction(this.topic));
      made.addOkAction(new SnsAction(this.topic));
      this.alarms.push(made);
    };
    const minutes = (n: number) => Duration.minutes(n);

    // The act Lambda on faulty-reefers.
    const { fn, poison, failedBatches } = props.act;
    alarm(
      "act-iterator-age",
      "The act Lambda is more than a minute behind faulty-reefers: engineers are told late",
      fn.metric("IteratorAge", { statistic: "Maximum", period: minutes(1) }),
      60_000,
      5,
    );
    alarm("act-errors", "The act Lambda failed", fn.metricErrors({ period: minutes(5) }), 0);
    alarm(
      "lake-compaction-errors",
      "The daily compaction into the hourly table failed: the dashboard lacks those days",
      props.compaction.metricErrors({ period: minutes(60) }),
      0,
    );
    alarm(
      "act-poison-records",
      "Records on faulty-reefers that are not alerts",
      poison.metricApproximateNumberOfMessagesVisible({ period: minutes(5) }),
      0,
    );
    alarm(
      "act-failed-batches",
      "Alert records the act Lambda gave up on: no one was notified of them",
      failedBatches.metricApproximateNumberOfMessagesVisible({ period: minutes(5) }),
      0,
    );

    // The IoT rules: an action that failed put the message in the error bucket; an error
    // action that failed lost it.
    for (const { name: rule, target } of props.rules) {
      const metric = (metricName: string) =>
        new Metric({
          namespace: "AWS/IoT",
          metricName,
          dimensionsMap: { RuleName: StageNames.of(this).underscore(rule) },
          statistic: "Sum",
          period: minutes(5),
        });
      const short = rule.replace(/^reefer_/, "").replace(/_/g, "-");
      alarm(
        `rule-${short}-failures`,
        `The rule ${rule} could not deliver messages; they are in the error bucket`,
        metric("Failure"),
        0,
      );
      alarm(
        `rule-${short}-error-action-failures`,
        `The rule ${rule}'s error action failed too: those messages are lost`,
        metric("ErrorActionFailure"),
        0,
      );
      if (target.kind === "quarantine")
        alarm(
          short.replace(/^(\w+)-quarantine$/, "quarantined-$1"),
          `Messages the door turned away (${rule}): kept under quarantine/ in the rule-errors bucket`,
          new Metric({
            namespace: QUARANTINE_NAMESPACE,
            metricName: target.metricName,
            statistic: "Sum",
            period: minutes(5),
          }),
          0,
        );
    }

    // The streams: a throttled write is a rule failure; a consumer behind is the lake and the
    // Flink job late.
    for (const [name, stream] of Object.entries(props.streams)) {
      alarm(
        `${name}-write-throttles`,
        `Writes into ${name} were throttled: the stream needs more shards`,
        stream.metric("WriteProvisionedThroughputExceeded", {
          statistic: "Sum",
          period: minutes(5),
        }),
        0,
      );
      alarm(
        `${name}-iterator-age`,
        `A consumer of ${name} (the Flink job, the live Firehose or the act Lambda) is more than a minute behind`,
        stream.metricGetRecordsIteratorAgeMilliseconds({
          statistic: "Maximum",
          period: minutes(1),
        }),
        60_000,
        5,
      );
    }

    // The lake: the oldest record not yet in S3, against two buffer intervals.
    for (const name of props.deliveryStreamNames) {
      alarm(
        `${name}-data-freshness`,
        `${name} holds records older than twice its buffer interval: the lake is late`,
        new Metric({
          namespace: "AWS/Firehose",
          metricName: "DeliveryToS3.DataFreshness",
          dimensionsMap: { DeliveryStreamName: StageNames.of(this).dash(name) },
          statistic: "Maximum",
          period: minutes(5),
        }),
        2 * props.deliveryBufferSeconds,
      );
    }

    // The Flink job: down, or restarting (a record it cannot process restarts it again and again).
    const flink = (metricName: string, statistic: string) =>
      new Metric({
        namespace: "AWS/KinesisAnalytics",
        metricName,
        dimensionsMap: { Application: props.flinkApplicationName },
        statistic,
        period: minutes(1),
      });
    alarm(
      "flink-downtime",
      "The faulty-reefers Flink job is down: no windows are computed",
      flink("downtime", "Average"),
      0,
    );
    alarm(
      "flink-restarts",
      "The faulty-reefers Flink job restarted",
      new MathExpression({
        expression: "RATE(restarts)",
        usingMetrics: { restarts: flink("fullRestarts", "Maximum") },
        period: minutes(1),
        label: "fullRestarts per second",
      }),
      0,
    );
  }

  /** AWS IoT logs its rule, connect and publish errors into CloudWatch Logs (off by default). */
  private iotLogging(): void {
    const group = new LogGroup(this, "IotLogs", {
      logGroupName: IOT_LOG_GROUP,
      retention: RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new Role(this, "IotLoggingRole", {
      assumedBy: new ServicePrincipal("iot.amazonaws.com"),
      description: "AWS IoT writes its logs into AWSIotLogsV2",
    });
    role.addToPolicy(
      new PolicyStatement({
        actions: [
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "logs:PutMetricFilter",
          "logs:PutRetentionPolicy",
        ],
        resources: [group.logGroupArn],
      }),
    );
    acknowledge(role, {
      [`IAM5[Resource::<${this.getLogicalId(group.node.defaultChild as never)}.Arn>]`]:
        "AWS IoT writes one log stream per day and source into its log group",
    });
    new CfnLogging(this, "IotLogging", {
      accountId: this.account,
      roleArn: role.roleArn,
      // Errors and warnings: rule failures, refused connects and publishes. INFO logs every
      // message of 10,000 gateways, at a price.
      defaultLogLevel: "WARN",
    });
  }
}
