import { Duration, RemovalPolicy, type Stack } from "aws-cdk-lib";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  ObjectOwnership,
  type CfnBucket,
} from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";

import { LEDGER_PREFIX } from "../lambda/ledger/ledger.js";
import { acknowledge } from "./nag.js";
import { nodeLambda } from "./node-lambda.js";
import { INGEST_RULES } from "./rule-table.js";
import { StageNames } from "./stage-names.js";

/** How long the ledger's objects are locked, by default: five years (`-c auditRetentionDays`). */
export const DEFAULT_AUDIT_RETENTION_DAYS = 1826;

/**
 * The audit ledger's bucket: every checkpoint and gap record the gateways sign, locked in
 * COMPLIANCE mode for the retention period, so that no one (the account's root included) can
 * overwrite or delete one before then: what makes the lake's readings provable (the agent's
 * docs/audit-log.md). A bucket of its own rather than a prefix of the lake: a default retention
 * applies to a whole bucket, and the lake's readings must stay free to move to colder storage,
 * to be compacted and rewritten as Parquet. Object Lock needs versioning, which it turns on. It
 * lives beside the rule that fills it (the Ingest stack), as the rule-errors bucket does.
 */
export function auditLedger(scope: Construct, logs: Bucket): Bucket {
  const raw: unknown = scope.node.tryGetContext("auditRetentionDays");
  const days = raw === undefined ? DEFAULT_AUDIT_RETENTION_DAYS : Number(raw);
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`-c auditRetentionDays=${String(raw)}: a whole number of days, at least 1`);
  return new Bucket(scope, "AuditLedger", {
    encryption: BucketEncryption.S3_MANAGED,
    versioned: true,
    objectLockEnabled: true,
    objectLockDefaultRetention: ObjectLockRetention.compliance(Duration.days(days)),
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    // Locked objects outlive any stack: the bucket is never deleted with it.
    removalPolicy: RemovalPolicy.RETAIN,
    serverAccessLogsBucket: logs,
    serverAccessLogsPrefix: "AuditLedger/",
  });
}

/**
 * The ledger rules' Lambda: it writes each checkpoint, gap record and edge alert into the ledger with a
 * checksum (S3 refuses a PUT into a locked bucket without one). It may put objects under the
 * ledger's prefix and nothing else: no delete, no retention change, no governance bypass.
 */
export function auditLedgerWriter(stack: Stack, ledger: Bucket): IFunction {
  const fn = nodeLambda(stack, "LedgerWriter", {
    entry: "lambda/ledger/handler.ts",
    timeout: Duration.seconds(10),
    logRetention: RetentionDays.ONE_YEAR,
    environment: { LEDGER_BUCKET: ledger.bucketName },
  });
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ["s3:PutObject"],
      resources: [ledger.arnForObjects(`${LEDGER_PREFIX}*`)],
    }),
  );
  // Each rule that writes into the ledger (the audit messages, the edge's alerts) may invoke it.
  for (const rule of INGEST_RULES.filter((r) => r.target.kind === "ledger")) {
    fn.addPermission(`IotInvokes_${rule.name}`, {
      principal: new ServicePrincipal("iot.amazonaws.com"),
      sourceAccount: stack.account,
      sourceArn: `arn:${stack.partition}:iot:${stack.region}:${stack.account}:rule/${StageNames.of(stack).underscore(rule.name)}`,
    });
  }
  acknowledge(fn.role ?? fn, {
    [`IAM5[Resource::<${stack.getLogicalId(ledger.node.defaultChild as CfnBucket)}.Arn>/${LEDGER_PREFIX}*]`]:
      "One object a checkpoint, gap record or alert, named by gateway, day and content hash",
  });
  return fn;
}
