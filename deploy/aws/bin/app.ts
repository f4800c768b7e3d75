import { App, Tags, Validations, type Stack } from "aws-cdk-lib";
import { StageNames } from "../lib/stage-names.js";
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
import {
  DEFAULT_LOAD,
  describeSizing,
  sizeTelemetries,
  type FleetLoad,
  type StreamSizing,
} from "../lib/sizing.js";
import { StreamsStack, type StreamCapacity } from "../lib/streams-stack.js";

/** CDK behaviours this app relies on (the defaults of a new project, set explicitly). */
export const FEATURE_FLAGS = {
  // Log delivery to the access-log bucket by bucket policy, not ACLs (ACLs are disabled).
  "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
};

/** A positive number from the context, or the default; anything else names the key. */
function numberContext(app: App, key: string, fallback: number): number {
  const raw = app.node.tryGetContext(key) as string | number | undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`-c ${key}=${String(raw)}: a positive number is needed`);
  return value;
}

/** The telemetries stream's load and capacity, from the context (lib/sizing.ts). */
export function telemetriesPlan(app: App): {
  load: FleetLoad;
  sizing: StreamSizing;
  capacity: StreamCapacity;
  onDemand: boolean;
  basicIngest: boolean;
} {
  const perSecond = app.node.tryGetContext("readingsPerSecond") as string | undefined;
  const load: FleetLoad =
    perSecond === undefined
      ? {
          containers: numberContext(app, "containers", DEFAULT_LOAD.containers),
          intervalSeconds: numberContext(app, "intervalSeconds", DEFAULT_LOAD.intervalSeconds),
          recordBytes: numberContext(app, "recordBytes", DEFAULT_LOAD.recordBytes),
        }
      : {
          containers: numberContext(app, "readingsPerSecond", 1),
          intervalSeconds: 1,
          recordBytes: numberContext(app, "recordBytes", DEFAULT_LOAD.recordBytes),
        };
  const sizing = sizeTelemetries(load);
  const onDemand = String(app.node.tryGetContext("telemetriesOnDemand")) === "true";
  const shards = app.node.tryGetContext("telemetriesShards") as string | number | undefined;
  const capacity: StreamCapacity = onDemand
    ? { mode: "on-demand" }
    : { shards: shards === undefined ? sizing.shards : numberContext(app, "telemetriesShards", 1) };
  const basicIngest = String(app.node.tryGetContext("basicIngest")) === "true";
  return { load, sizing, capacity, onDemand, basicIngest };
}

/**
 * The whole cloud path, environment-agnostic: synthesizing needs no credentials, no region
 * lookup and no network (`npm run synth` writes cdk.out/); `npm run deploy` deploys into the
 * account and region of the caller's AWS profile.
 *
 * Context: the fleet's load, `-c containers=N -c intervalSeconds=S` (default 10,000 at 60 s) or
 * `-c readingsPerSecond=R`, sizes telemetries with 70 % headroom (lib/sizing.ts);
 * `-c telemetriesShards=N` sets the shards outright, `-c telemetriesOnDemand=true` makes it
 * on-demand; `-c quicksightPrincipal=<QuickSight user or group ARN>` adds the dashboard;
 * `-c stage=dev` prefixes every physical name and stack name, so that stages share an account
 * (lib/stage-names.ts); `-c basicIngest=true` lets gateways publish readings by AWS IoT Basic
 * Ingest (the agent's `publish.basicIngest`), without the broker's messaging charge.
 */
export function buildApp(app: App = new App({ outdir: "cdk.out", context: FEATURE_FLAGS })): App {
  const { capacity: telemetriesCapacity, basicIngest } = telemetriesPlan(app);
  const names = StageNames.of(app);
  const streams = new StreamsStack(app, "ReeferStreams", {
    stackName: names.stack("ReeferStreams"),
    description: "reefer-edge: the telemetries and faulty-reefers Kinesis streams",
    telemetriesCapacity,
    faultyReefersCapacity: { shards: 1 },
  });
  const lake = new LakeStack(app, "ReeferLake", {
    stackName: names.stack("ReeferLake"),
    description: "reefer-edge: the S3 data lake, its Firehoses, Glue table and Athena queries",
    telemetries: streams.streams.telemetries,
  });
  const ingest = new IngestStack(app, "ReeferIngest", {
    stackName: names.stack("ReeferIngest"),
    description: "reefer-edge: gateway and claim policies, fleet provisioning, the IoT rules",
    streams: streams.streams,
    backfill: lake.backfill,
    basicIngest,
  });
  const act = new ActStack(app, "ReeferAct", {
    stackName: names.stack("ReeferAct"),
    description: "reefer-edge: the act Lambda on faulty-reefers, alerts in DynamoDB and SNS",
    faultyReefers: streams.streams["faulty-reefers"],
  });
  const analytics = new AnalyticsStack(app, "ReeferAnalytics", {
    stackName: names.stack("ReeferAnalytics"),
    description: "reefer-edge: the faulty-reefers Flink SQL job (Managed Service for Apache Flink)",
    telemetries: streams.streams.telemetries,
    faultyReefers: streams.streams["faulty-reefers"],
  });
  const operations = new OperationsStack(app, "ReeferOperations", {
    stackName: names.stack("ReeferOperations"),
    description: "reefer-edge: the alarms of the cloud path, the topic they page through, IoT logs",
    streams: streams.streams,
    rules: INGEST_RULES,
    deliveryStreamNames: DELIVERY_STREAMS,
    deliveryBufferSeconds: DELIVERY_BUFFER_SECONDS,
    flinkApplicationName: analytics.application.ref,
    act: { fn: act.fn, poison: act.poison, failedBatches: act.failedBatches },
    compaction: lake.compaction,
  });
  const release = new ReleaseStack(app, "ReeferRelease", {
    stackName: names.stack("ReeferRelease"),
    description:
      "reefer-edge: updates over the air: the release bucket, the pre-signing role, the job template",
  });
  // Gateways provision into the Release stack's thing type and group: they must exist first.
  ingest.addStackDependency(release);
  const stacks: Stack[] = [streams, lake, ingest, act, analytics, operations, release];
  // Off by default: QuickSight needs an account subscription (dashboard-stack.ts).
  const principal = app.node.tryGetContext("quicksightPrincipal") as string | undefined;
  if (principal) {
    const dashboard = new DashboardStack(app, "ReeferDashboard", {
      stackName: names.stack("ReeferDashboard"),
      description: "reefer-edge: the QuickSight dashboard over the lake (optional)",
      principalArn: principal,
      workGroup: names.dash(LAKE_WORKGROUP),
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
  const app = buildApp();
  const plan = telemetriesPlan(app);
  console.log(describeSizing(plan.load, plan.sizing, plan.onDemand, plan.basicIngest));
  app.synth();
}
