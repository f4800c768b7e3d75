import { Duration } from "aws-cdk-lib";
import { Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { join } from "node:path";
import { acknowledge } from "./nag.js";
import { projectRoot } from "./project-root.js";

/**
 * A Lambda of this app, made one way: Node 22, traced, its own log group, and the pinned AWS SDK
 * versions of package.json bundled rather than the runtime's own; with the cdk-nag findings
 * every such function has, acknowledged once here.
 */
export function nodeLambda(
  scope: Construct,
  id: string,
  props: {
    /** The handler's file under lambda/. */
    readonly entry: string;
    readonly timeout: Duration;
    readonly logRetention: RetentionDays;
    readonly environment: Record<string, string>;
  },
): NodejsFunction {
  const fn = new NodejsFunction(scope, id, {
    entry: join(projectRoot(), props.entry),
    handler: "handler",
    runtime: Runtime.NODEJS_22_X,
    memorySize: 256,
    timeout: props.timeout,
    tracing: Tracing.ACTIVE,
    logGroup: new LogGroup(scope, `${id}Logs`, { retention: props.logRetention }),
    environment: props.environment,
    bundling: { externalModules: [], format: OutputFormat.CJS, minify: true, target: "node22" },
  });
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
  return fn;
}
