import { S3Client } from "@aws-sdk/client-s3";
import { writeToLedger } from "./ledger.js";

const s3 = new S3Client({});

/**
 * The audit rule's Lambda action: the rule's SELECT * of one audit message is the event. A
 * failure throws, so the rule's error action keeps the message for a replay.
 */
export async function handler(event: Record<string, unknown>): Promise<{ key: string }> {
  const bucket = process.env.LEDGER_BUCKET;
  if (!bucket) throw new Error("LEDGER_BUCKET is not set");
  return { key: await writeToLedger(s3, bucket, event) };
}
