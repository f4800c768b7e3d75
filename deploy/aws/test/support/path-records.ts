import Database from "better-sqlite3";
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** A reading as the path carries it: the fields the tests count by. */
export interface PathReading {
  container_id: string;
  seq: number;
}

/** A stream's record as put: its partition key, its data as text, its sequence number. */
export interface StreamRecord {
  key: string;
  data: string;
  sequence: string;
}

/** Every record of a stream (moto's), oldest first in each shard. */
export async function rawStreamRecords(
  kinesis: KinesisClient,
  stream: string,
): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  for (const shard of Shards) {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      if (!page.Records?.length) break;
      for (const r of page.Records)
        out.push({
          key: r.PartitionKey ?? "",
          data: Buffer.from(r.Data ?? new Uint8Array()).toString(),
          sequence: r.SequenceNumber ?? "",
        });
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** Every reading of a stream (moto's), oldest first in each shard, with its partition key. */
export async function streamRecords(
  kinesis: KinesisClient,
  stream: string,
): Promise<{ partitionKey: string; reading: PathReading }[]> {
  return (await rawStreamRecords(kinesis, stream)).map((r) => ({
    partitionKey: r.key,
    reading: JSON.parse(r.data) as PathReading,
  }));
}

/** The text of every object under a prefix of a bucket. */
export async function objectsUnder(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const texts: string[] = [];
  for (const object of listing.Contents ?? []) {
    const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
    texts.push((await body.Body?.transformToString()) ?? "");
  }
  return texts;
}

/** The readings the backfill Firehose wrote to the lake (newline-delimited JSON). */
export async function lakeReadings(s3: S3Client): Promise<PathReading[]> {
  const readings: PathReading[] = [];
  for (const text of await objectsUnder(s3, "lake", "readings/"))
    for (const line of text.split("\n"))
      if (line.trim()) readings.push(JSON.parse(line) as PathReading);
  return readings;
}

/** Each container's last seq captured, from an agent's outbox file (its audit log's row left out). */
export function capturedLastSeqs(outbox: string): Map<string, number> {
  const db = new Database(outbox, { readonly: true });
  try {
    return new Map(
      db
        .prepare<[], { container_id: string; last_seq: number }>(
          "SELECT container_id, last_seq FROM sequences WHERE container_id NOT LIKE '#%'",
        )
        .all()
        .map((row) => [row.container_id, row.last_seq] as const),
    );
  } finally {
    db.close();
  }
}

/** Of each container's seqs 1 to its last captured, those no reading carries. */
export function missingSeqs(
  captured: ReadonlyMap<string, number>,
  readings: readonly PathReading[],
): Record<string, number[]> {
  const arrived = new Map<string, Set<number>>();
  for (const r of readings) {
    const seqs = arrived.get(r.container_id) ?? new Set<number>();
    seqs.add(r.seq);
    arrived.set(r.container_id, seqs);
  }
  const missing: Record<string, number[]> = {};
  for (const [container, last] of captured) {
    missing[container] = [];
    for (let seq = 1; seq <= last; seq++)
      if (!arrived.get(container)?.has(seq)) missing[container].push(seq);
  }
  return missing;
}
