import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { GATEWAY_GROUP, GATEWAY_THING_TYPE } from "./release-stack.js";
import { StageNames } from "./stage-names.js";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnPolicy, CfnProvisioningTemplate, CfnTopicRule } from "aws-cdk-lib/aws-iot";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import type { CfnDeliveryStream } from "aws-cdk-lib/aws-kinesisfirehose";
import type { Bucket, CfnBucket } from "aws-cdk-lib/aws-s3";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { nodeLambda } from "./node-lambda.js";
import {
  INGEST_RULES,
  QUARANTINE_NAMESPACE,
  SQL_VERSION,
  type IngestRule,
  type StreamName,
} from "./rule-table.js";
import { acknowledge } from "./nag.js";
import { secureBucket } from "./secure-bucket.js";
import { auditLedger, auditLedgerWriter } from "./audit-ledger.js";

export interface IngestProps extends StackProps {
  readonly streams: Readonly<Record<StreamName, Stream>>;
  readonly backfill: CfnDeliveryStream;
  /**
   * Let gateways publish readings by AWS IoT Basic Ingest to the rules that take it (the rule
   * table's `basicIngest`): no messaging charge (`-c basicIngest=true`).
   */
  readonly basicIngest?: boolean;
}

/** The thing name in an IoT policy: the connected client's own, whatever certificate it holds. */
const THING = "${iot:Connection.Thing.ThingName}";
export const GATEWAY_POLICY_NAME = "reefer-gateway";
export const CLAIM_POLICY_NAME = "reefer-gateway-claim";
export const PROVISIONING_TEMPLATE_NAME = "reefer-gateway";

/**
 * Where gateways come in: their IoT policy (each may act only as its own thing), the claim
 * policy and fleet provisioning template that turn a factory claim certificate into a gateway's
 * own, and the topic rules of the rule table, each with an error action that keeps what failed.
 */
export class IngestStack extends Stack {
  readonly errors: Bucket;
  /** The audit ledger: the gateways' checkpoints and gap records, under Object Lock. */
  readonly ledger: Bucket;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id, props);
    const names = StageNames.of(this);
    const arn = (resource: string) =>
      `arn:${this.partition}:iot:${this.region}:${this.account}:${resource}`;

    new CfnPolicy(this, "GatewayPolicy", {
      policyName: names.dash(GATEWAY_POLICY_NAME),
      policyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            // Only as its own thing, and only with a certificate attached to that thing.
            Effect: "Allow",
            Action: "iot:Connect",
            Resource: arn(`client/${THING}`),
            Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" } },
          },
          {
            Effect: "Allow",
            Action: "iot:Publish",
            Resource: [
              arn(`topic/dt/reefer/${THING}/*`),
              // Basic Ingest: the same topics behind the rule they go to, that rule only.
              ...(props.basicIngest ? INGEST_RULES.filter((r) => r.basicIngest) : []).map((r) =>
                arn(`topic/$aws/rules/${names.underscore(r.name)}/dt/reefer/${THING}/*`),
              ),
              arn(`topic/$aws/things/${THING}/shadow/*`),
              // Update jobs (docs/updates.md): start-next, and each job's get and update.
              arn(`topic/$aws/things/${THING}/jobs/*`),
            ],
          },
          {
            Effect: "Allow",
            Action: "iot:Subscribe",
            Resource: [
              arn(`topicfilter/cmd/reefer/${THING}/*`),
              arn(`topicfilter/$aws/things/${THING}/shadow/*`),
              arn(`topicfilter/$aws/things/${THING}/jobs/*`),
            ],
          },
          {
            Effect: "Allow",
            Action: "iot:Receive",
            Resource: [
              arn(`topic/cmd/reefer/${THING}/*`),
              arn(`topic/$aws/things/${THING}/shadow/*`),
              arn(`topic/$aws/things/${THING}/jobs/*`),
            ],
          },
        ],
      },
    });

    // The claim certificate (the same on every gateway of a batch) may do nothing but ask for
    // its own certificate and register itself with the template.
    const provisioning = [
      "$aws/certificates/create-from-csr/json",
      `$aws/provisioning-templates/${names.dash(PROVISIONING_TEMPLATE_NAME)}/provision/json`,
    ];
    new CfnPolicy(this, "ClaimPolicy", {
      policyName: names.dash(CLAIM_POLICY_NAME),
      policyDocument: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: "iot:Connect", Resource: arn("client/claim-*") },
          {
            Effect: "Allow",
            Action: "iot:Publish",
            Resource: provisioning.map((topic) => arn(`topic/${topic}`)),
          },
          {
            Effect: "Allow",
            Action: ["iot:Subscribe"],
            Resource: provisioning.flatMap((t) => [
              arn(`topicfilter/${t}/accepted`),
              arn(`topicfilter/${t}/rejected`),
            ]),
          },
          {
            Effect: "Allow",
            Action: ["iot:Receive"],
            Resource: provisioning.flatMap((t) => [
              arn(`topic/${t}/accepted`),
              arn(`topic/${t}/rejected`),
            ]),
          },
        ],
      },
    });

    const provisioningRole = new Role(this, "ProvisioningRole", {
      assumedBy: new ServicePrincipal("iot.amazonaws.com"),
      description: "Fleet provisioning: register a gateway's thing and certificate",
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName("service-role/AWSIoTThingsRegistration"),
      ],
    });
    acknowledge(provisioningRole, {
      "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSIoTThingsRegistration]":
        "The role policy AWS documents for fleet provisioning; AWS keeps it in step with what " +
        "the provisioning service calls",
    });
    const hook = this.preProvisioningHook();
    const template = new CfnProvisioningTemplate(this, "ProvisioningTemplate", {
      templateName: names.dash(PROVISIONING_TEMPLATE_NAME),
      description: "A gateway: thing gw-<serial>, its certificate, the gateway policy",
      enabled: true,
      provisioningRoleArn: provisioningRole.roleArn,
      templateBody: JSON.stringify(
        provisioningTemplate({
          gatewayPolicy: names.dash(GATEWAY_POLICY_NAME),
          thingType: names.dash(GATEWAY_THING_TYPE),
          thingGroup: names.dash(GATEWAY_GROUP),
        }),
      ),
      preProvisioningHook: { targetArn: hook.functionArn, payloadVersion: "2020-04-01" },
    });
    // AWS IoT checks it may invoke the hook when the template is made.
    template.node.addDependency(hook);

    const logs = secureBucket(this, "AccessLogs");
    this.errors = secureBucket(this, "RuleErrors", { logs });
    this.ledger = auditLedger(this, logs);
    const role = new Role(this, "RulesRole", {
      assumedBy: new ServicePrincipal("iot.amazonaws.com"),
      description: "IoT rules: put into the streams and the backfill Firehose, keep failures",
    });
    for (const rule of INGEST_RULES) {
      const target = rule.target;
      if (target.kind === "kinesis") props.streams[target.stream].grantWrite(role);
    }
    role.addToPolicy(
      new PolicyStatement({
        actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
        resources: [props.backfill.attrArn],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [
          this.errors.arnForObjects("rule-errors/*"),
          this.errors.arnForObjects("quarantine/*"),
        ],
      }),
    );
    // PutMetricData takes no resource; the namespace condition holds it to the quarantine counts.
    role.addToPolicy(
      new PolicyStatement({
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        conditions: { StringEquals: { "cloudwatch:namespace": QUARANTINE_NAMESPACE } },
      }),
    );
    acknowledge(role, {
      [`IAM5[Resource::<${this.getLogicalId(this.errors.node.defaultChild as CfnBucket)}.Arn>/rule-errors/*]`]:
        "The error action writes one object a failed message, named by rule, topic and time",
      [`IAM5[Resource::<${this.getLogicalId(this.errors.node.defaultChild as CfnBucket)}.Arn>/quarantine/*]`]:
        "The quarantine rules write one object a message turned away, named by rule, topic and time",
      "IAM5[Resource::*]":
        "cloudwatch:PutMetricData takes no resource; a condition holds it to the reefer-edge namespace",
    });

    const ledgerWriter = auditLedgerWriter(this, this.ledger);
    for (const rule of INGEST_RULES) {
      new CfnTopicRule(this, ruleId(rule), {
        ruleName: names.underscore(rule.name),
        topicRulePayload: {
          description: rule.description,
          sql: rule.sql,
          awsIotSqlVersion: SQL_VERSION,
          ruleDisabled: false,
          actions: actions(rule, role.roleArn, props, this.errors.bucketName, ledgerWriter),
          errorAction: {
            s3: {
              bucketName: this.errors.bucketName,
              // What failed, whole, under its rule and topic, for a replay.
              key: `rule-errors/${rule.name}/\${topic()}/\${timestamp()}-\${newuuid()}.json`,
              roleArn: role.roleArn,
            },
          },
        },
      });
    }
  }

  /**
   * The door of fleet provisioning (lambda/pre-provision): a serial is enrolled only if the
   * factory's allow-list has it and no thing of it exists. The allow-list is a table the
   * factory fills, one item per serial made (`serial`; `revoked: true` bars one).
   */
  private preProvisioningHook(): IFunction {
    const serials = new Table(this, "GatewaySerials", {
      tableName: StageNames.of(this).dash(SERIALS_TABLE_NAME),
      partitionKey: { name: "serial", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const fn = nodeLambda(this, "PreProvisioningHook", {
      entry: "lambda/pre-provision/handler.ts",
      // Fleet provisioning waits 5 s for a hook's answer.
      timeout: Duration.seconds(5),
      logRetention: RetentionDays.ONE_YEAR,
      environment: { SERIALS_TABLE: serials.tableName },
    });
    serials.grant(fn, "dynamodb:GetItem");
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["iot:DescribeThing", "iot:ListThingPrincipals"],
        resources: [`arn:${this.partition}:iot:${this.region}:${this.account}:thing/gw-*`],
      }),
    );
    fn.addPermission("IotInvokes", {
      principal: new ServicePrincipal("iot.amazonaws.com"),
      sourceAccount: this.account,
      sourceArn: `arn:${this.partition}:iot:${this.region}:${this.account}:provisioningtemplate/${StageNames.of(this).dash(PROVISIONING_TEMPLATE_NAME)}`,
    });
    acknowledge(fn.role ?? fn, {
      "IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/gw-*]":
        "The hook asks whether the thing of the serial being enrolled exists: any gateway's",
    });
    return fn;
  }
}

export const SERIALS_TABLE_NAME = "reefer-gateway-serials";

function ruleId(rule: IngestRule): string {
  return rule.name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
}

function actions(
  rule: IngestRule,
  roleArn: string,
  props: IngestProps,
  errorsBucket: string,
  ledgerWriter: IFunction,
): CfnTopicRule.ActionProperty[] {
  const target = rule.target;
  if (target.kind === "ledger") return [{ lambda: { functionArn: ledgerWriter.functionArn } }];
  if (target.kind === "kinesis") {
    return [
      {
        kinesis: {
          streamName: props.streams[target.stream].streamName,
          partitionKey: target.partitionKey,
          roleArn,
        },
      },
    ];
  }
  if (target.kind === "quarantine") {
    return [
      {
        s3: {
          bucketName: errorsBucket,
          key: `quarantine/${rule.name}/\${topic()}/\${timestamp()}-\${newuuid()}.json`,
          roleArn,
        },
      },
      {
        cloudwatchMetric: {
          metricNamespace: QUARANTINE_NAMESPACE,
          metricName: target.metricName,
          metricValue: "1",
          metricUnit: "Count",
          roleArn,
        },
      },
    ];
  }
  return [
    {
      firehose: {
        deliveryStreamName: props.backfill.ref,
        batchMode: target.batchMode,
        separator: target.separator,
        roleArn,
      },
    },
  ];
}

/**
 * The fleet provisioning template: thing gw-<SerialNumber> of the gateway thing type, in the
 * gateways' group (update jobs and fleet indexing target them), its certificate, the policy.
 */
export function provisioningTemplate(
  names: { gatewayPolicy: string; thingType: string; thingGroup: string } = {
    gatewayPolicy: GATEWAY_POLICY_NAME,
    thingType: GATEWAY_THING_TYPE,
    thingGroup: GATEWAY_GROUP,
  },
): Record<string, unknown> {
  return {
    Parameters: {
      SerialNumber: { Type: "String" },
      // The gateway's audit checkpoint key, its public half in hex (docs/audit-log.md): an
      // attribute value cannot hold the "+" of the verifier key itself. Empty from an agent
      // that keeps no audit log.
      CheckpointKey: { Type: "String", Default: "" },
      "AWS::IoT::Certificate::Id": { Type: "String" },
    },
    Resources: {
      thing: {
        Type: "AWS::IoT::Thing",
        Properties: {
          ThingName: { "Fn::Join": ["", ["gw-", { Ref: "SerialNumber" }]] },
          AttributePayload: {
            serial: { Ref: "SerialNumber" },
            checkpoint_key: { Ref: "CheckpointKey" },
          },
          ThingTypeName: names.thingType,
          ThingGroups: [names.thingGroup],
        },
        // A gateway provisioned again keeps the groups an operator put it in, and joins ours.
        OverrideSettings: {
          AttributePayload: "MERGE",
          ThingTypeName: "REPLACE",
          ThingGroups: "MERGE",
        },
      },
      certificate: {
        Type: "AWS::IoT::Certificate",
        Properties: { CertificateId: { Ref: "AWS::IoT::Certificate::Id" }, Status: "ACTIVE" },
      },
      policy: { Type: "AWS::IoT::Policy", Properties: { PolicyName: names.gatewayPolicy } },
    },
  };
}
