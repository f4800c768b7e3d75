import { App, Tags, Validations, type Stack } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ActStack } from "../lib/act-stack.js";
import { AnalyticsStack } from "../lib/analytics-stack.js";
import { DashboardStack } from "../lib/dashboard-stack.js";
import { IngestStack } from "../lib/ingest-stack.js";
import {
  DELIVERY_BUFFER_SECONDS,
  DELIVERY_STREAMS,
  LAKE_WORKGROUP,
  LakeStack,
} from "../lib/lake-stack.js";
import { OperationsStack } from "../lib/operations-stack.js";
import { INGEST_RULES } from "../lib/rule-table.js";
import { ReleaseStack } from "../lib/release-stack.js";
import { StreamsStack, type StreamCapacity } from "../lib/streams-stack.js";

/** CDK behaviours this app relies on (the defaults of a new project, set explicitly). */
export const FEATURE_FLAGS = {
  // Log delivery to the access-log bucket by bucket policy, not ACLs (ACLs are disabled).
  "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
};

/**
 * The whole cloud path, environment-agnostic: synthesizing needs no credentials, no region
 * lookup and no network (`npm run synth` writes cdk.out/); `npm run deploy` deploys into the
 * account and region of the caller's AWS profile.
 *
 * Context: -c telemetriesShards=N (default: on-demand; see streams-stack.ts for the sizing);
 * -c quicksightPrincipal=<QuickSight user or group ARN> adds the optional dashboard.
 */
export function buildApp(app: App = new App({ outdir: "cdk.out", context: FEATURE_FLAGS })): App {
  const shards = app.node.tryGetContext("telemetriesShards") as string | number | undefined;
  const telemetriesCapacity: StreamCapacity =
    shards === undefined ? { mode: "on-demand" } : { shards: Number(shards) };
  const streams = new StreamsStack(app, "ReeferStreams", {
    description: "reefer-edge: the telemetries and faulty-reefers Kinesis streams",
    telemetriesCapacity,
    faultyReefersCapacity: { shards: 1 },
  });
  const lake = new LakeStack(app, "ReeferLake", {
    description: "reefer-edge: the S3 data lake, its Firehoses, Glue table and Athena queries",
    telemetries: streams.streams.telemetries,
  });
  const ingest = new IngestStack(app, "ReeferIngest", {
    description: "reefer-edge: gateway and claim policies, fleet provisioning, the IoT rules",
    streams: streams.streams,
    backfill: lake.backfill,
  });
  const act = new ActStack(app, "ReeferAct", {
    description: "reefer-edge: the act Lambda on faulty-reefers, alerts in DynamoDB and SNS",
    faultyReefers: streams.streams["faulty-reefers"],
  });
  const analytics = new AnalyticsStack(app, "ReeferAnalytics", {
    description: "reefer-edge: the faulty-reefers Flink SQL job (Managed Service for Apache Flink)",
    telemetries: streams.streams.telemetries,
    faultyReefers: streams.streams["faulty-reefers"],
  });
  const operations = new OperationsStack(app, "ReeferOperations", {
    description: "reefer-edge: the alarms of the cloud path, the topic they page through, IoT logs",
    streams: streams.streams,
    ruleNames: INGEST_RULES.map((rule) => rule.name),
    deliveryStreamNames: DELIVERY_STREAMS,
    deliveryBufferSeconds: DELIVERY_BUFFER_SECONDS,
    flinkApplicationName: analytics.application.ref,
    act: { fn: act.fn, poison: act.poison, failedBatches: act.failedBatches },
  });
  const release = new ReleaseStack(app, "ReeferRelease", {
    description:
      "reefer-edge: updates over the air: the release bucket, the pre-signing role, the job template",
  });
  const stacks: Stack[] = [streams, lake, ingest, act, analytics, operations, release];
  // Off by default: QuickSight needs an account subscription (dashboard-stack.ts).
  const principal = app.node.tryGetContext("quicksightPrincipal") as string | undefined;
  if (principal) {
    const dashboard = new DashboardStack(app, "ReeferDashboard", {
      description: "reefer-edge: the QuickSight dashboard over the lake (optional)",
      principalArn: principal,
      workGroup: LAKE_WORKGROUP,
    });
    dashboard.addStackDependency(lake);
    stacks.push(dashboard);
  }
  for (const stack of stacks) {
    Tags.of(stack).add("project", "reefer-edge");
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) {
  buildApp().synth();
}
