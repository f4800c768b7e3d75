import { AthenaClient } from "@aws-sdk/client-athena";
import { S3Client } from "@aws-sdk/client-s3";
import { compactRecentDays } from "./compact.js";

const clients = { s3: new S3Client({}), athena: new AthenaClient({}) };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The daily schedule's target: the hourly table's last days computed again (compact.ts). */
export async function handler(): Promise<{ days: string[] }> {
  const days = await compactRecentDays(
    clients,
    {
      bucket: required("LAKE_BUCKET"),
      database: required("LAKE_DATABASE"),
      readingsTable: required("READINGS_TABLE"),
      workGroup: required("LAKE_WORKGROUP"),
    },
    new Date(),
  );
  return { days };
}
