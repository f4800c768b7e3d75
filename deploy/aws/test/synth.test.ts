import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, FEATURE_FLAGS } from "../bin/app.js";
import { DEFAULT_AUDIT_RETENTION_DAYS } from "../lib/audit-ledger.js";
import { READING_COLUMNS } from "../lib/lake-columns.js";
import { HOURLY_COLUMNS, HOURLY_TABLE } from "../lib/lake-hourly.js";
import { productThresholdCase } from "../lib/product-thresholds.js";
import { projectRoot } from "../lib/project-root.js";
import {
  DELIVERY_STREAMS,
  PARTITION_QUERY,
  PROJECTED_DATES,
  SAVED_QUERIES,
} from "../lib/lake-stack.js";
import { GATEWAY_GROUP, RELEASE_PREFIX, ROLLOUT } from "../lib/release-stack.js";
import { INGEST_RULES, SQL_VERSION } from "../lib/rule-table.js";

/** Every statement of every IAM and IoT policy in a template. */
function statements(template: Template): { Action: unknown; Resource: unknown; Effect: string }[] {
  const out: { Action: unknown; Resource: unknown; Effect: string }[] = [];
  for (const type of ["AWS::IAM::Policy", "AWS::IoT::Policy"]) {
    for (const resource of Object.values(template.findResources(type))) {
      const props = resource.Properties as { PolicyDocument: { Statement: typeof out } };
      out.push(...props.PolicyDocument.Statement);
    }
  }
  return out;
}
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** Every stack the app makes by default. */
const STACKS = [
  "ReeferStreams",
  "ReeferLake",
  "ReeferIngest",
  "ReeferAct",
  "ReeferAnalytics",
  "ReeferOperations",
  "ReeferRelease",
];

describe("the synthesized cloud path (no credentials, no network)", () => {
  let outdir = "";
  let app: App;
  const template = (id: string) => Template.fromStack(Stack.of(app.node.findChild(id)));

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), "reefer-cdk-"));
    // A machine with AWS variables set must not change what is synthesized.
    for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "CDK_DEFAULT_ACCOUNT"])
      Reflect.deleteProperty(process.env, name);
    app = buildApp(new App({ outdir, context: FEATURE_FLAGS }));
    app.synth();
  }, 120_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("passes cdk-nag's AWS Solutions checks, with a reason for every acknowledged finding", () => {
    const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as {
      pluginReports: {
        pluginName: string;
        conclusion: string;
        violations: unknown[];
        suppressedViolations: { ruleName: string; reason: string }[];
      }[];
    };
    const nag = report.pluginReports.find((r) => r.pluginName === "AwsSolutions");
    expect(nag?.violations).toEqual([]);
    expect(nag?.conclusion).toBe("success");
    for (const acknowledged of nag?.suppressedViolations ?? [])
      expect(acknowledged.reason.length, acknowledged.ruleName).toBeGreaterThan(20);
  });

  it("keeps a week in both streams, encrypted", () => {
    const streams = template("ReeferStreams");
    streams.resourceCountIs("AWS::Kinesis::Stream", 2);
    for (const name of ["telemetries", "faulty-reefers"]) {
      streams.hasResourceProperties("AWS::Kinesis::Stream", {
        Name: name,
        RetentionPeriodHours: 168,
        StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" },
      });
    }
  });

  it("deploys every rule of the table as written, each keeping what failed", () => {
    const ingest = template("ReeferIngest");
    const rules = ingest.findResources("AWS::IoT::TopicRule");
    expect(Object.keys(rules)).toHaveLength(INGEST_RULES.length);
    for (const rule of INGEST_RULES) {
      const target = rule.target;
      ingest.hasResourceProperties("AWS::IoT::TopicRule", {
        RuleName: rule.name,
        TopicRulePayload: {
          Sql: rule.sql,
          AwsIotSqlVersion: SQL_VERSION,
          RuleDisabled: false,
          Actions:
            target.kind === "quarantine"
              ? [
                  // Kept whole under quarantine/, and counted for its alarm.
                  {
                    S3: Match.objectLike({
                      Key: Match.stringLikeRegexp(`^quarantine/${rule.name}/`),
                    }),
                  },
                  {
                    CloudwatchMetric: Match.objectLike({
                      MetricNamespace: "reefer-edge",
                      MetricName: target.metricName,
                      MetricValue: "1",
                    }),
                  },
                ]
              : [
                  target.kind === "kinesis"
                    ? {
                        Kinesis: Match.objectLike({
                          PartitionKey: "${topic(4)}",
                          // The stream the table names, imported from the Streams stack.
                          StreamName: Match.objectLike({
                            "Fn::ImportValue": Match.stringLikeRegexp(
                              `ReeferStreams:ExportsOutputRef${target.stream === "telemetries" ? "Telemetries" : "FaultyReefers"}`,
                            ),
                          }),
                        }),
                      }
                    : target.kind === "ledger"
                      ? {
                          // The ledger writer of this stack, which checksums each PUT.
                          Lambda: {
                            FunctionArn: {
                              "Fn::GetAtt": [Match.stringLikeRegexp("^LedgerWriter"), "Arn"],
                            },
                          },
                        }
                      : { Firehose: Match.objectLike({ BatchMode: true, Separator: "\n" }) },
                ],
          ErrorAction: {
            S3: Match.objectLike({ Key: Match.stringLikeRegexp(`^rule-errors/${rule.name}/`) }),
          },
        },
      });
    }
  });

  it("keeps every checkpoint, gap record and edge alert in a ledger locked in COMPLIANCE mode, written and never deleted", () => {
    const ingest = template("ReeferIngest");
    ingest.hasResourceProperties("AWS::S3::Bucket", {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: DEFAULT_AUDIT_RETENTION_DAYS } },
      },
      VersioningConfiguration: { Status: "Enabled" },
      PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true }),
    });
    const ledger = Object.entries(ingest.findResources("AWS::S3::Bucket")).filter(
      ([, bucket]) => (bucket.Properties as { ObjectLockEnabled?: boolean }).ObjectLockEnabled,
    );
    expect(ledger.map(([id]) => id)).toEqual([expect.stringMatching(/^AuditLedger/)]);
    expect(ledger[0]?.[1].DeletionPolicy).toBe("Retain");

    // The rule lets in only a gateway's own audit messages, and its Lambda may only add objects.
    ingest.hasResourceProperties("AWS::IoT::TopicRule", {
      TopicRulePayload: Match.objectLike({
        Sql: "SELECT * FROM 'dt/reefer/+/audit' WHERE gateway_id = topic(3)",
      }),
    });
    const writerPolicies = Object.entries(ingest.findResources("AWS::IAM::Policy")).filter(([id]) =>
      id.startsWith("LedgerWriter"),
    );
    expect(writerPolicies).toHaveLength(1);
    const granted = (
      writerPolicies[0]?.[1].Properties as { PolicyDocument: { Statement: { Action: unknown }[] } }
    ).PolicyDocument.Statement.flatMap((st) => list(st.Action));
    expect(granted).toContain("s3:PutObject");
    for (const action of granted)
      expect(String(action)).not.toMatch(
        /^s3:(Delete|PutObjectRetention|BypassGovernance|PutBucket)/,
      );
    // The audit messages' rule and the alerts' rule may each invoke it, and no other.
    for (const rule of ["reefer_audit_to_ledger", "reefer_alerts_to_ledger"])
      ingest.hasResourceProperties("AWS::Lambda::Permission", {
        Principal: "iot.amazonaws.com",
        SourceArn: {
          "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp(`:rule/${rule}$`)])],
        },
      });
    const invokers = Object.values(ingest.findResources("AWS::Lambda::Permission")).filter((p) =>
      JSON.stringify(p).includes("_to_ledger"),
    );
    expect(invokers).toHaveLength(2);
  });

  it("lets a gateway act only as its own thing, and a claim only provision", () => {
    const ingest = template("ReeferIngest");
    const policies = ingest.findResources("AWS::IoT::Policy");
    const byName = (name: string) =>
      Object.values(policies).find(
        (p) => (p.Properties as { PolicyName: string }).PolicyName === name,
      )?.Properties as {
        PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] };
      };
    const resources = (doc: ReturnType<typeof byName>, action: string) =>
      doc.PolicyDocument.Statement.filter((s) => list(s.Action).includes(action))
        .flatMap((s) => list(s.Resource))
        .map((r) => JSON.stringify(r));
    const gateway = byName("reefer-gateway");
    const thing = "${iot:Connection.Thing.ThingName}";
    expect(resources(gateway, "iot:Connect")).toEqual([
      expect.stringContaining(`:client/${thing}`),
    ]);
    expect(resources(gateway, "iot:Publish")).toEqual([
      expect.stringContaining(`:topic/dt/reefer/${thing}/*`),
      expect.stringContaining(`:topic/$aws/things/${thing}/shadow/*`),
      expect.stringContaining(`:topic/$aws/things/${thing}/jobs/*`),
    ]);
    expect(resources(gateway, "iot:Subscribe")).toHaveLength(3);
    for (const r of resources(gateway, "iot:Subscribe"))
      expect(r).toMatch(
        new RegExp(
          `topicfilter/(cmd/reefer|\\$aws/things)/\\$\\{iot:Connection\\.Thing\\.ThingName\\}/`,
        ),
      );
    const claim = byName("reefer-gateway-claim");
    expect(resources(claim, "iot:Publish")).toHaveLength(2);
    expect(resources(claim, "iot:Receive")).toHaveLength(4);
    for (const r of [...resources(claim, "iot:Publish"), ...resources(claim, "iot:Receive")])
      expect(r).toMatch(
        /\$aws\/(certificates\/create-from-csr|provisioning-templates\/reefer-gateway\/provision)\/json/,
      );
    ingest.hasResourceProperties("AWS::IoT::ProvisioningTemplate", {
      TemplateName: "reefer-gateway",
      Enabled: true,
      TemplateBody: Match.serializedJson(
        Match.objectLike({
          Resources: Match.objectLike({
            policy: { Type: "AWS::IoT::Policy", Properties: { PolicyName: "reefer-gateway" } },
            // Of the thing type, in the group, that the Release stack makes: jobs target it.
            thing: Match.objectLike({
              Properties: Match.objectLike({
                ThingTypeName: "reefer-gateway",
                ThingGroups: ["reefer-gateways"],
                // The audit log's checkpoint key, registered with the thing as the agent sends it.
                AttributePayload: {
                  serial: { Ref: "SerialNumber" },
                  checkpoint_key: { Ref: "CheckpointKey" },
                },
              }),
            }),
          }),
        }),
      ),
    });
  });

  it("enrols only listed, new serials: the template's pre-provisioning hook, invocable by AWS IoT", () => {
    const ingest = template("ReeferIngest");
    const provisioning = Object.values(ingest.findResources("AWS::IoT::ProvisioningTemplate"))[0]
      ?.Properties as { PreProvisioningHook?: { TargetArn: unknown; PayloadVersion: string } };
    expect(provisioning.PreProvisioningHook?.PayloadVersion).toBe("2020-04-01");
    const target = JSON.stringify(provisioning.PreProvisioningHook?.TargetArn);
    const functions = ingest.findResources("AWS::Lambda::Function");
    const hookId = Object.keys(functions).find((id) => target.includes(id));
    expect(hookId, "the hook is a function of this stack").toBeDefined();
    expect(
      (functions[hookId ?? ""]?.Properties as { Environment: { Variables: object } }).Environment
        .Variables,
    ).toEqual({ SERIALS_TABLE: expect.anything() as unknown });
    ingest.hasResourceProperties("AWS::Lambda::Permission", {
      Principal: "iot.amazonaws.com",
      Action: "lambda:InvokeFunction",
      FunctionName: Match.objectLike({ "Fn::GetAtt": [hookId, "Arn"] }),
      SourceArn: Match.objectLike({
        "Fn::Join": Match.arrayWith([Match.arrayWith([":provisioningtemplate/reefer-gateway"])]),
      }),
    });
    ingest.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "reefer-gateway-serials",
      KeySchema: [{ AttributeName: "serial", KeyType: "HASH" }],
    });
    // It reads the allow-list and asks whether a thing exists, and whose: nothing more.
    const granted = statements(ingest)
      .filter((s) => JSON.stringify(s.Resource).includes("thing/gw-"))
      .flatMap((s) => list(s.Action));
    expect(granted).toEqual(["iot:DescribeThing", "iot:ListThingPrincipals"]);
  });

  it("grants no wildcard on IoT publish, Kinesis or Firehose writes, anywhere", () => {
    for (const id of [
      "ReeferStreams",
      "ReeferLake",
      "ReeferIngest",
      "ReeferAct",
      "ReeferAnalytics",
      "ReeferOperations",
    ]) {
      for (const statement of statements(template(id))) {
        const actions = list(statement.Action).map(String);
        const writes = actions.filter((a) =>
          /^(iot:Publish|kinesis:Put|firehose:Put|kinesis:\*|firehose:\*|iot:\*|\*)/.test(a),
        );
        if (writes.length === 0) continue;
        expect(list(statement.Resource), `${id}: ${writes.join(",")}`).not.toContain("*");
        expect(actions).not.toContain("*");
      }
    }
  });

  it("lands readings in a private, versioned, encrypted lake partitioned by the reading's day", () => {
    const lake = template("ReeferLake");
    lake.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
      VersioningConfiguration: { Status: "Enabled" },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Transitions: Match.arrayWith([Match.objectLike({ StorageClass: "STANDARD_IA" })]),
          }),
        ]),
      },
    });
    for (const type of ["KinesisStreamAsSource", "DirectPut"]) {
      lake.hasResourceProperties("AWS::KinesisFirehose::DeliveryStream", {
        DeliveryStreamType: type,
        ExtendedS3DestinationConfiguration: Match.objectLike({
          Prefix: Match.stringLikeRegexp("^readings/date=!\\{partitionKeyFromQuery:date\\}/"),
          DynamicPartitioningConfiguration: Match.objectLike({ Enabled: true }),
        }),
      });
    }
  });

  it("describes the readings with the wire contract's columns, and saves the operators' queries", () => {
    const contract = readFileSync(
      new URL("../../../docs/wire-contract.md", import.meta.url),
      "utf8",
    );
    const section = contract.slice(
      contract.indexOf("## Reading"),
      contract.indexOf("## Alert record"),
    );
    const fields = [...section.matchAll(/^\| (`[^|]+`)/gm)].flatMap((m) =>
      [...(m[1] ?? "").matchAll(/`(\w+)`/g)].map((f) => f[1]),
    );
    expect(READING_COLUMNS.map((c) => c.name)).toEqual(fields);
    const lake = template("ReeferLake");
    lake.hasResourceProperties("AWS::Glue::Table", {
      TableInput: Match.objectLike({
        StorageDescriptor: Match.objectLike({
          Columns: READING_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })),
        }),
        Parameters: Match.objectLike({
          "projection.enabled": "true",
          "projection.date.range": PROJECTED_DATES,
        }),
      }),
    });
    // Both Firehoses file readings by the arrival-bounded query (test/lake-partitions.test.ts).
    for (const name of DELIVERY_STREAMS)
      lake.hasResourceProperties("AWS::KinesisFirehose::DeliveryStream", {
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: Match.objectLike({
          ProcessingConfiguration: Match.objectLike({
            Processors: Match.arrayWith([
              {
                Type: "MetadataExtraction",
                Parameters: Match.arrayWith([
                  { ParameterName: "MetadataExtractionQuery", ParameterValue: PARTITION_QUERY },
                ]),
              },
            ]),
          }),
        }),
      });
    lake.resourceCountIs("AWS::Athena::NamedQuery", Object.keys(SAVED_QUERIES).length);
    // The hourly table: Parquet, a partition a day, filled by a Lambda run daily.
    lake.hasResourceProperties("AWS::Glue::Table", {
      TableInput: Match.objectLike({
        Name: HOURLY_TABLE,
        PartitionKeys: [{ Name: "date", Type: "string" }],
        StorageDescriptor: Match.objectLike({
          Columns: HOURLY_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })),
          SerdeInfo: {
            SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
          },
        }),
      }),
    });
    lake.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "cron(30 1 * * ? *)",
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    lake.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({ READINGS_TABLE: "readings", LAKE_WORKGROUP: "reefer-lake" }),
      },
    });
    expect(SAVED_QUERIES.DeduplicatedQuery?.sql).toContain("PARTITION BY container_id, seq");
    // Excursions by the product table's thresholds, the Flink job's own CASE.
    expect(SAVED_QUERIES.ExcursionsQuery?.sql).toContain(
      `WHERE temperature > ${productThresholdCase()}`,
    );
    expect(productThresholdCase()).toMatch(
      /^CASE product_id\n\s+WHEN 'P06' THEN 8\n\s+ELSE 18\n\s+END$/,
    );
  });

  it("acts on faulty-reefers idempotently: partial batch failures, an on-failure queue, alarms", () => {
    const act = template("ReeferAct");
    act.hasResourceProperties("AWS::Lambda::Function", { Runtime: "nodejs22.x" });
    act.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      StartingPosition: "TRIM_HORIZON",
      DestinationConfig: { OnFailure: Match.objectLike({}) },
    });
    act.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "alert_id", KeyType: "HASH" }],
    });
    // Bounded by the record's age, not a count of attempts; ten batches a shard at once.
    act.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: 86_400,
      ParallelizationFactor: 10,
    });
  });

  /** Every alarm of every stack, with the stack it is in. */
  function allAlarms(): { stack: string; props: Record<string, unknown> }[] {
    return STACKS.flatMap((id) =>
      Object.values(template(id).findResources("AWS::CloudWatch::Alarm")).map((alarm) => ({
        stack: id,
        props: alarm.Properties as Record<string, unknown>,
      })),
    );
  }

  it("pages through a topic whose own key lets CloudWatch alarms publish to it", () => {
    const ops = template("ReeferOperations");
    const topics = ops.findResources("AWS::SNS::Topic");
    const [topicId, topic] = Object.entries(topics)[0] ?? [];
    const keyRef = (topic?.Properties as { KmsMasterKeyId: unknown }).KmsMasterKeyId;
    // A key of the stack's, not the AWS-managed alias/aws/sns, whose policy no one can change
    // and which CloudWatch may not use: alarms on such a topic tell no one.
    expect(JSON.stringify(keyRef)).not.toContain("alias/aws/");
    const keyId = (keyRef as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    const key = ops.findResources("AWS::KMS::Key")[keyId]?.Properties as {
      EnableKeyRotation: boolean;
      KeyPolicy: { Statement: { Principal?: unknown; Action: unknown; Effect: string }[] };
    };
    expect(key.EnableKeyRotation).toBe(true);
    const forCloudWatch = key.KeyPolicy.Statement.filter(
      (s) =>
        JSON.stringify(s.Principal) === JSON.stringify({ Service: "cloudwatch.amazonaws.com" }),
    );
    expect(forCloudWatch).toHaveLength(1);
    expect(forCloudWatch[0]?.Effect).toBe("Allow");
    expect(list(forCloudWatch[0]?.Action)).toEqual(
      expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey*"]),
    );
    // Every alarm of the app is here and pages through that topic, raised and cleared.
    const alarms = allAlarms();
    expect(alarms.length).toBeGreaterThan(0);
    for (const { stack, props } of alarms) {
      expect(stack, String(props.AlarmName)).toBe("ReeferOperations");
      expect(props.AlarmActions, String(props.AlarmName)).toEqual([{ Ref: topicId }]);
      expect(props.OKActions, String(props.AlarmName)).toEqual([{ Ref: topicId }]);
    }
    ops.hasResourceProperties("AWS::IoT::Logging", { DefaultLogLevel: "WARN" });
  });

  it("alarms on every way the path loses or delays data, named in the README's catalogue", () => {
    const alarms = allAlarms().map((a) => a.props);
    const watched = (namespace: string, metric: string, dimension: Record<string, unknown>) =>
      alarms.some(
        (a) =>
          (a.Namespace === namespace &&
            a.MetricName === metric &&
            JSON.stringify(a.Dimensions).includes(JSON.stringify(Object.values(dimension)[0]))) ||
          JSON.stringify(a.Metrics ?? "").includes(`"MetricName":"${metric}"`),
      );
    for (const rule of INGEST_RULES) {
      expect(watched("AWS/IoT", "Failure", { RuleName: rule.name }), rule.name).toBe(true);
      expect(watched("AWS/IoT", "ErrorActionFailure", { RuleName: rule.name }), rule.name).toBe(
        true,
      );
    }
    for (const name of DELIVERY_STREAMS)
      expect(watched("AWS/Firehose", "DeliveryToS3.DataFreshness", { name }), name).toBe(true);
    const metrics = alarms.map((a) => JSON.stringify([a.MetricName, a.Metrics]));
    for (const metric of [
      "WriteProvisionedThroughputExceeded",
      "GetRecords.IteratorAgeMilliseconds",
      "IteratorAge",
      "Errors",
      "downtime",
      "fullRestarts",
    ])
      expect(
        metrics.some((m) => m.includes(metric)),
        metric,
      ).toBe(true);
    // The FailedBatches queue's depth: the batches the act Lambda gave up on.
    const act = template("ReeferAct");
    const failedQueue = Object.keys(act.findResources("AWS::SQS::Queue")).find(
      (id) => id.startsWith("FailedBatches") && !id.includes("Dlq"),
    );
    expect(failedQueue).toBeDefined();
    expect(
      alarms.some(
        (a) =>
          a.MetricName === "ApproximateNumberOfMessagesVisible" &&
          JSON.stringify(a.Dimensions).includes(failedQueue ?? "?"),
      ),
    ).toBe(true);

    // The catalogue: every alarm once, and nothing that is not an alarm.
    const readme = readFileSync(join(projectRoot(), "README.md"), "utf8");
    const catalogue = readme.slice(readme.indexOf("## Alarm catalogue"));
    const section = catalogue.slice(0, catalogue.indexOf("\n## ", 5));
    const listed = section
      .split("\n")
      .filter((line) => line.startsWith("| `reefer-"))
      .flatMap((line) => [...(line.split(" | ")[0] ?? "").matchAll(/`(reefer-[a-z0-9-]+)`/g)])
      .map((m) => m[1]);
    expect(listed.sort()).toEqual(alarms.map((a) => String(a.AlarmName)).sort());
  });

  it("runs the SQL file's job on Managed Service for Apache Flink, from telemetries into faulty-reefers", () => {
    const analytics = template("ReeferAnalytics");
    analytics.hasResourceProperties("AWS::KinesisAnalyticsV2::Application", {
      RuntimeEnvironment: "FLINK-1_19",
      ApplicationConfiguration: Match.objectLike({
        ApplicationCodeConfiguration: Match.objectLike({ CodeContentType: "ZIPFILE" }),
        EnvironmentProperties: {
          PropertyGroups: [
            {
              PropertyGroupId: "FaultyReefers",
              PropertyMap: {
                "aws.region": { Ref: "AWS::Region" },
                // The streams by their physical names (a stage's prefix with them), not literals.
                "telemetries.stream": { "Fn::ImportValue": Match.stringLikeRegexp("Telemetries") },
                "faulty-reefers.stream": {
                  "Fn::ImportValue": Match.stringLikeRegexp("FaultyReefers"),
                },
                "efo.consumer.name": "reefer-faulty-reefers",
                "efo.consumer.arn": {
                  "Fn::GetAtt": [Match.stringLikeRegexp("^JobConsumer"), "ConsumerARN"],
                },
              },
            },
          ],
        },
      }),
    });
    // Enhanced fan-out: its own consumer of telemetries, which only the job may subscribe with.
    analytics.hasResourceProperties("AWS::Kinesis::StreamConsumer", {
      ConsumerName: "reefer-faulty-reefers",
      StreamARN: { "Fn::ImportValue": Match.stringLikeRegexp("Telemetries") },
    });
    // It reads telemetries and writes faulty-reefers, not the other way round.
    const on = (action: string) =>
      statements(analytics)
        .filter((s) => list(s.Action).includes(action))
        .map((s) => JSON.stringify(s.Resource));
    expect(on("kinesis:GetRecords")).toEqual([
      expect.stringContaining("ExportsOutputFnGetAttTelemetries"),
    ]);
    expect(on("kinesis:PutRecord")).toEqual([
      expect.stringContaining("ExportsOutputFnGetAttFaultyReefers"),
    ]);
    // SubscribeToShard's resource is the consumer's ARN, which the stream's read grant does not
    // cover (stream/<name>, not stream/<name>/consumer/...).
    expect(on("kinesis:SubscribeToShard")).toContainEqual(expect.stringContaining("JobConsumer"));
  });

  it("leaves the QuickSight dashboard out unless a principal is given, and then builds it", () => {
    expect(app.node.tryFindChild("ReeferDashboard")).toBeUndefined();
    const withDashboard = buildApp(
      new App({
        outdir: mkdtempSync(join(tmpdir(), "reefer-cdk-qs-")),
        context: {
          ...FEATURE_FLAGS,
          quicksightPrincipal: "arn:aws:quicksight:eu-west-1:123456789012:user/default/ops",
        },
      }),
    );
    const dashboard = Template.fromStack(Stack.of(withDashboard.node.findChild("ReeferDashboard")));
    dashboard.hasResourceProperties("AWS::QuickSight::DataSource", {
      Type: "ATHENA",
      DataSourceParameters: { AthenaParameters: { WorkGroup: "reefer-lake" } },
    });
    dashboard.hasResourceProperties("AWS::QuickSight::DataSet", {
      ImportMode: "DIRECT_QUERY",
      PhysicalTableMap: {
        readings: {
          // The hourly table, not the readings (lake-scan.test.ts computes what a load scans).
          CustomSql: Match.objectLike({
            SqlQuery: Match.stringLikeRegexp(`FROM reefer_lake\\.${HOURLY_TABLE}\\b`),
          }),
        },
      },
    });
    const visuals = (
      Object.values(dashboard.findResources("AWS::QuickSight::Dashboard"))[0]?.Properties as {
        Definition: { Sheets: { Visuals: Record<string, { VisualId: string }>[] }[] };
      }
    ).Definition.Sheets.flatMap((sheet) => sheet.Visuals.map((v) => Object.values(v)[0]?.VisualId));
    expect(visuals).toEqual([
      "temperature-against-setpoint",
      "excursions-per-day",
      "gateways-with-backlogs",
    ]);
  });

  it("keeps releases in an encrypted, versioned bucket, pre-signed by a role that only reads them, with the fleet's rollout in a job template", () => {
    const release = template("ReeferRelease");
    const buckets = Object.values(release.findResources("AWS::S3::Bucket")).map(
      (b) => b.Properties as Record<string, unknown>,
    );
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" });
      expect(JSON.stringify(bucket.BucketEncryption)).toContain("AES256");
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
    release.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: "iot.amazonaws.com" } })],
      },
    });
    const granted = statements(release).filter((s) => s.Effect === "Allow");
    expect(granted.map((s) => s.Action)).toEqual(["s3:GetObject"]);
    expect(JSON.stringify(granted[0]?.Resource)).toContain(`/${RELEASE_PREFIX}*`);
    const job = Object.values(release.findResources("AWS::IoT::JobTemplate"))[0]?.Properties as {
      JobTemplateId: string;
      Document: string;
      AbortConfig: { CriteriaList: Record<string, unknown>[] };
      JobExecutionsRolloutConfig: { ExponentialRolloutRate: Record<string, unknown> };
      TimeoutConfig: Record<string, unknown>;
      PresignedUrlConfig: { ExpiresInSec: number };
    };
    expect(job.JobTemplateId).toBe("reefer-edge-update");
    expect(job.AbortConfig.CriteriaList).toContainEqual({
      FailureType: "FAILED",
      Action: "CANCEL",
      ThresholdPercentage: 5,
      MinNumberOfExecutedThings: 100,
    });
    expect(job.JobExecutionsRolloutConfig.ExponentialRolloutRate).toEqual({
      BaseRatePerMinute: ROLLOUT.baseRatePerMinute,
      IncrementFactor: ROLLOUT.incrementFactor,
      RateIncreaseCriteria: { NumberOfSucceededThings: ROLLOUT.succeededToIncrease },
    });
    expect(job.TimeoutConfig).toEqual({ InProgressTimeoutInMinutes: 120 });
    expect(job.PresignedUrlConfig.ExpiresInSec).toBe(3600);
    // No `${parameter:…}` in it: a custom template's document takes no parameters.
    expect(JSON.parse(job.Document)).toEqual({
      operation: "reefer-edge.update",
      note: expect.stringContaining("cloud release --template reefer-edge-update") as string,
    });
    release.hasResourceProperties("AWS::IoT::ThingGroup", { ThingGroupName: GATEWAY_GROUP });
    release.hasResourceProperties("AWS::IoT::ThingType", { ThingTypeName: "reefer-gateway" });
  });
});
