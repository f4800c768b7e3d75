import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";

/**
 * The audit ledger (docs/audit-log.md in the agent): every message of the gateways' audit topic,
 * a signed checkpoint or a gap record, and every edge alert (a leaf of its gateway's log), kept
 * whole in an S3 bucket under Object Lock in
 * COMPLIANCE mode, where no one, the account's root included, can change or delete it before its
 * retention ends. `reefer-edge audit verify --checkpoints` reads a copy of its prefix.
 */

/** Where the ledger's objects are, under the bucket. */
export const LEDGER_PREFIX = "audit/";

/**
 * What the ledger keeps, and the kind each object is named by: the audit messages (the audit
 * rule's door holds them to their gateway) and the edge's alerts (the alert rule's door holds
 * them to their gateway and container).
 */
const KIND_OF_SCHEMA: Readonly<Record<string, "checkpoint" | "gap" | "alert" | undefined>> = {
  "reefer.checkpoint.v1": "checkpoint",
  "reefer.gap.v1": "gap",
  "reefer.gap.v2": "gap",
  "reefer.alert.v1": "alert",
};

/**
 * An object's key: by gateway and day of arrival, named by the SHA-256 of its content, so a
 * message delivered twice (QoS 1) is written under the same name.
 */
function ledgerKey(
  message: Readonly<Record<string, unknown>>,
  kind: string,
  body: string,
  now: Date,
): string {
  const gateway = String(message.gateway_id).replace(/[^A-Za-z0-9:_-]/g, "_");
  const digest = createHash("sha256").update(body).digest("hex");
  return `${LEDGER_PREFIX}gateway=${gateway}/date=${now.toISOString().slice(0, 10)}/${kind}-${digest}.json`;
}

/**
 * Writes one audit message, as newline-delimited JSON, with a SHA-256 checksum: S3 refuses a
 * PUT into a bucket with a default Object Lock retention without Content-MD5 or an x-amz-checksum
 * header, and the IoT rule's own S3 action is not documented to send one, hence this writer.
 */
export async function writeToLedger(
  s3: S3Client,
  bucket: string,
  message: Readonly<Record<string, unknown>>,
  now: Date = new Date(),
): Promise<string> {
  const kind = KIND_OF_SCHEMA[String(message.schema)];
  if (kind === undefined)
    throw new Error(`not an audit message or an alert: schema ${JSON.stringify(message.schema)}`);
  const body = JSON.stringify(message) + "\n";
  const key = ledgerKey(message, kind, body, now);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: "application/x-ndjson",
      ChecksumAlgorithm: "SHA256",
    }),
  );
  return key;
}
