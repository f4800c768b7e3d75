import { Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnStreamConsumer, type Stream } from "aws-cdk-lib/aws-kinesis";
import {
  CfnApplication,
  CfnApplicationCloudWatchLoggingOption,
} from "aws-cdk-lib/aws-kinesisanalyticsv2";
import { LogGroup, LogStream, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Asset } from "aws-cdk-lib/aws-s3-assets";
import type { Construct } from "constructs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { acknowledge } from "./nag.js";
import { projectRoot } from "./project-root.js";

export interface AnalyticsProps extends StackProps {
  readonly telemetries: Stream;
  readonly faultyReefers: Stream;
}

/** The job's application jar, as `npm run job` (mvn package in analytics/job) builds it. */
export const JOB_JAR = "analytics/job/target/faulty-reefers-0.1.0.jar";

/**
 * The streaming half of the seed's rule: Managed Service for Apache Flink running
 * analytics/faulty-reefers.sql (one-minute event-time windows per container over telemetries)
 * into faulty-reefers. The application is created stopped, as CloudFormation leaves it; start it
 * once with `aws kinesisanalyticsv2 start-application --application-name reefer-faulty-reefers`.
 */
export class AnalyticsStack extends Stack {
  readonly application: CfnApplication;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id, props);
    const jar = join(projectRoot(), JOB_JAR);
    if (!existsSync(jar))
      throw new Error(
        `${jar} is missing: build the Flink job first (npm run job, which needs Maven)`,
      );
    const code = new Asset(this, "JobJar", { path: jar });

    const logs = new LogGroup(this, "JobLogs", { retention: RetentionDays.THREE_MONTHS });
    const logStream = new LogStream(this, "JobLogStream", { logGroup: logs });

    const role = new Role(this, "JobRole", {
      assumedBy: new ServicePrincipal("kinesisanalytics.amazonaws.com"),
      description: "The faulty-reefers Flink job: read telemetries, write faulty-reefers",
    });
    code.grantRead(role);
    props.telemetries.grantRead(role);
    props.faultyReefers.grantWrite(role);
    // Enhanced fan-out: the job's own consumer of telemetries, a dedicated 2 MiB/s a shard pushed
    // to it, so that it does not share the shards' 5 reads a second with the lake's Firehose.
    const names = StageNames.of(this);
    const consumer = new CfnStreamConsumer(this, "JobConsumer", {
      streamArn: props.telemetries.streamArn,
      consumerName: names.dash("reefer-faulty-reefers"),
    });
    role.addToPolicy(
      new PolicyStatement({
        actions: ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"],
        resources: [consumer.attrConsumerArn],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ["logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources: [logs.logGroupArn],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        // The Kinesis consumer's shard discovery; neither action takes a resource.
        actions: ["kinesis:ListShards", "kinesis:DescribeStreamSummary"],
        resources: [props.telemetries.streamArn],
      }),
    );

    this.application = new CfnApplication(this, "Job", {
      applicationName: names.dash("reefer-faulty-reefers"),
      applicationDescription:
        "Per container and minute, readings over their product's threshold (faulty-reefers.sql)",
      runtimeEnvironment: "FLINK-1_19",
      serviceExecutionRole: role.roleArn,
      applicationConfiguration: {
        applicationCodeConfiguration: {
          codeContentType: "ZIPFILE",
          codeContent: {
            s3ContentLocation: { bucketArn: code.bucket.bucketArn, fileKey: code.s3ObjectKey },
          },
        },
        environmentProperties: {
          propertyGroups: [
            {
              // The SQL file's placeholders (FaultyReefersJob.PLACEHOLDERS): the stage's streams.
              propertyGroupId: "FaultyReefers",
              propertyMap: {
                "aws.region": this.region,
                "telemetries.stream": props.telemetries.streamName,
                "faulty-reefers.stream": props.faultyReefers.streamName,
                "efo.consumer.name": consumer.consumerName,
                "efo.consumer.arn": consumer.attrConsumerArn,
              },
            },
          ],
        },
        flinkApplicationConfiguration: {
          // Exactly-once state for the windows across restarts.
          checkpointConfiguration: { configurationType: "DEFAULT" },
          monitoringConfiguration: {
            configurationType: "CUSTOM",
            logLevel: "INFO",
            metricsLevel: "APPLICATION",
          },
          parallelismConfiguration: {
            configurationType: "CUSTOM",
            parallelism: 1,
            parallelismPerKpu: 1,
            autoScalingEnabled: true,
          },
        },
        applicationSnapshotConfiguration: { snapshotsEnabled: true },
      },
    });
    this.application.node.addDependency(role);
    new CfnApplicationCloudWatchLoggingOption(this, "JobLogging", {
      applicationName: this.application.ref,
      cloudWatchLoggingOption: {
        logStreamArn: `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:${logs.logGroupName}:log-stream:${logStream.logStreamName}`,
      },
    });
    acknowledge(role, {
      "IAM5[Action::s3:GetBucket*]": "CDK's read grant on the asset bucket (the job's jar)",
      "IAM5[Action::s3:GetObject*]": "CDK's read grant on the asset bucket (the job's jar)",
      "IAM5[Action::s3:List*]": "CDK's read grant on the asset bucket (the job's jar)",
      "IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]":
        "CDK's asset bucket, where the job's jar is uploaded under a content hash",
    });
  }
}
