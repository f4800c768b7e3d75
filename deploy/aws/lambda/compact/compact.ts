import {
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
  type AthenaClient,
} from "@aws-sdk/client-athena";
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

import { COMPACTED_DAYS, HOURLY_PREFIX, hourlyUnloadSql } from "../../lib/lake-hourly.js";

export interface CompactionTarget {
  readonly bucket: string;
  readonly database: string;
  readonly readingsTable: string;
  readonly workGroup: string;
}

/** How long one day's UNLOAD may take before the run fails (Lambda's own limit is 15 min). */
const QUERY_DEADLINE_MS = 4 * 60_000;

/**
 * The daily compaction: the last COMPACTED_DAYS days (yesterday and before, as late backfill
 * changes them) computed again into the hourly table, one day at a time: the day's Parquet
 * removed, then written anew by Athena (UNLOAD needs an empty prefix). A run repeated, or cut
 * short and run again, leaves the same rows; a day whose query fails keeps nothing, and the run
 * throws so that the schedule's retry and the Lambda's error alarm see it.
 */
export async function compactRecentDays(
  clients: { s3: S3Client; athena: AthenaClient },
  target: CompactionTarget,
  now: Date,
  options: { pollMs?: number; days?: number } = {},
): Promise<string[]> {
  const days = recentDays(now, options.days ?? COMPACTED_DAYS);
  for (const day of days) {
    await emptyPrefix(clients.s3, target.bucket, `${HOURLY_PREFIX}date=${day}/`);
    const sql = hourlyUnloadSql(target.database, target.readingsTable, target.bucket, day);
    await runQuery(clients.athena, sql, target, options.pollMs ?? 2000);
  }
  return days;
}

/** The `count` days before `now`'s (UTC), oldest first. */
export function recentDays(now: Date, count: number): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: count }, (_, i) =>
    new Date(today - (count - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) return;
    const deleted = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
    );
    const failed = deleted.Errors ?? [];
    if (failed.length > 0)
      throw new Error(
        `could not empty s3://${bucket}/${prefix}: ${failed.map((e) => `${e.Key}: ${e.Message}`).join("; ")}`,
      );
  }
}

async function runQuery(
  athena: AthenaClient,
  sql: string,
  target: CompactionTarget,
  pollMs: number,
): Promise<void> {
  const started = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: target.workGroup,
      QueryExecutionContext: { Database: target.database },
    }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new Error("Athena started no query execution");
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  for (;;) {
    const { QueryExecution } = await athena.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const state = QueryExecution?.Status?.State;
    if (state === "SUCCEEDED") return;
    if (state === "FAILED" || state === "CANCELLED")
      throw new Error(
        `the compaction query ${id} ${state}: ${QueryExecution?.Status?.StateChangeReason ?? "no reason given"}`,
      );
    if (Date.now() > deadline) throw new Error(`the compaction query ${id} is still ${state}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
