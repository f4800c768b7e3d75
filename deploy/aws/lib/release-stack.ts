import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import { CfnJobTemplate, CfnThingGroup, CfnThingType } from "aws-cdk-lib/aws-iot";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { Bucket, CfnBucket } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { acknowledge } from "./nag.js";
import { secureBucket } from "./secure-bucket.js";

/** Where `reefer-edge cloud release` puts packages in the release bucket. */
export const RELEASE_PREFIX = "releases/";
/** The thing group every gateway joins, and that update jobs target. */
export const GATEWAY_GROUP = "reefer-gateways";
export const GATEWAY_THING_TYPE = "reefer-gateway";

/**
 * The rollout every update job follows, as `cloud release` applies it by default: a slow start
 * (10 gateways a minute), doubling each time 10 more succeed; cancelled once 5 % of at least 100
 * ended executions failed or timed out, so a bad release reaches at most a few percent of the
 * fleet; two hours for a gateway to download, install and soak.
 */
export const ROLLOUT = {
  baseRatePerMinute: 10,
  incrementFactor: 2,
  succeededToIncrease: 10,
  abortFailedPercent: 5,
  abortMinExecuted: 100,
  inProgressTimeoutMinutes: 120,
} as const;

/**
 * Updates over the air, the cloud's part (docs/updates.md): the release bucket (encrypted,
 * versioned, TLS only, logged), the role AWS IoT assumes to pre-sign a package's URL for a
 * gateway (read of the releases, nothing else), a job template holding the fleet's rollout,
 * abort and timeout, and the thing group and type that jobs and fleet indexing target.
 */
export class ReleaseStack extends Stack {
  readonly bucket: Bucket;
  readonly presignRole: Role;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.bucket = secureBucket(this, "Releases", { logs: secureBucket(this, "AccessLogs") });
    this.presignRole = new Role(this, "PresignRole", {
      assumedBy: new ServicePrincipal("iot.amazonaws.com"),
      description:
        "AWS IoT signs update packages' URLs as this role: it reads the releases, nothing else",
    });
    this.presignRole.addToPolicy(
      new PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.bucket.arnForObjects(`${RELEASE_PREFIX}*`)],
      }),
    );
    acknowledge(this.presignRole, {
      [`IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/${RELEASE_PREFIX}*]`]:
        "Every package under the releases prefix: a job's URL is pre-signed for whichever release it names, and the role can only read.",
    });
    new CfnThingType(this, "GatewayType", {
      thingTypeName: StageNames.of(this).dash(GATEWAY_THING_TYPE),
      thingTypeProperties: {
        thingTypeDescription: "A reefer-edge gateway on a refrigerated container",
        searchableAttributes: ["ship", "fleet"],
      },
    });
    new CfnThingGroup(this, "Gateways", {
      thingGroupName: StageNames.of(this).dash(GATEWAY_GROUP),
      thingGroupProperties: {
        thingGroupDescription: "Every reefer-edge gateway: update jobs target it",
      },
    });
    const template = new CfnJobTemplate(this, "UpdateTemplate", {
      jobTemplateId: StageNames.of(this).dash("reefer-edge-update"),
      description:
        "A reefer-edge update: its rollout, abort and timeout (the document is each release's)",
      // A custom template's document cannot take parameters (AWS fills documentParameters for
      // managed templates only), and each release signs its own: `reefer-edge cloud release
      // --template reefer-edge-update` sends the release's document with the job. A job made
      // from this template alone carries this one, which every gateway refuses, naming why.
      document: JSON.stringify({
        operation: "reefer-edge.update",
        note: "made without a release: use reefer-edge cloud release --template reefer-edge-update",
      }),
      // CloudFormation's own names: CfnJobTemplate types these blocks as plain JSON.
      presignedUrlConfig: { RoleArn: this.presignRole.roleArn, ExpiresInSec: 3600 },
      jobExecutionsRolloutConfig: {
        ExponentialRolloutRate: {
          BaseRatePerMinute: ROLLOUT.baseRatePerMinute,
          IncrementFactor: ROLLOUT.incrementFactor,
          RateIncreaseCriteria: { NumberOfSucceededThings: ROLLOUT.succeededToIncrease },
        },
      },
      abortConfig: {
        CriteriaList: ["FAILED", "TIMED_OUT"].map((failureType) => ({
          FailureType: failureType,
          Action: "CANCEL",
          ThresholdPercentage: ROLLOUT.abortFailedPercent,
          MinNumberOfExecutedThings: ROLLOUT.abortMinExecuted,
        })),
      },
      timeoutConfig: { InProgressTimeoutInMinutes: ROLLOUT.inProgressTimeoutMinutes },
    });
    new CfnOutput(this, "ReleaseBucket", { value: this.bucket.bucketName });
    new CfnOutput(this, "PresignRoleArn", { value: this.presignRole.roleArn });
    new CfnOutput(this, "UpdateJobTemplateArn", { value: template.attrArn });
  }
}
