import {
  AthenaClient,
  CreateWorkGroupCommand,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
} from "@aws-sdk/client-athena";
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { compactRecentDays, recentDays } from "../lambda/compact/compact.js";
import { HOURLY_PREFIX } from "../lib/lake-hourly.js";
import { MotoServer, requireMoto } from "./support/moto.js";

/** The daily compaction against moto's S3 and Athena: what it empties, what it asks Athena. */
const moto = requireMoto();

describe.skipIf(moto.skip)("the hourly table's daily compaction", () => {
  let server: MotoServer;
  let s3: S3Client;
  let athena: AthenaClient;
  const bucket = "lake";
  const target = {
    bucket,
    database: "reefer_lake",
    readingsTable: "readings",
    workGroup: "reefer-lake",
  };

  beforeAll(async () => {
    server = await MotoServer.start();
    s3 = new S3Client({ ...server.clientConfig(), forcePathStyle: true });
    athena = new AthenaClient(server.clientConfig());
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await athena.send(
      new CreateWorkGroupCommand({
        Name: target.workGroup,
        Configuration: {
          ResultConfiguration: { OutputLocation: `s3://${bucket}/athena-results/` },
        },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  const keys = async (prefix: string) =>
    (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents?.map(
      (o) => o.Key,
    ) ?? [];

  it("names the three days before today (UTC), oldest first", () => {
    expect(recentDays(new Date("2026-12-06T01:30:00Z"), 3)).toEqual([
      "2026-12-03",
      "2026-12-04",
      "2026-12-05",
    ]);
    expect(recentDays(new Date("2027-01-01T00:10:00Z"), 1)).toEqual(["2026-12-31"]);
  });

  it("empties each day's Parquet and writes it anew with one UNLOAD a day, the readings left alone", async () => {
    const days = recentDays(new Date("2026-12-06T01:30:00Z"), 3);
    for (const day of days)
      for (const part of ["a", "b"])
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${HOURLY_PREFIX}date=${day}/${part}.parquet`,
            Body: "stale",
          }),
        );
    const reading = `readings/date=${days[0]}/source=live/r.gz`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: reading, Body: "{}" }));
    // A day outside the window keeps its rows.
    const older = `${HOURLY_PREFIX}date=2026-11-30/old.parquet`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: older, Body: "kept" }));

    const done = await compactRecentDays({ s3, athena }, target, new Date("2026-12-06T01:30:00Z"), {
      pollMs: 1,
    });
    expect(done).toEqual(days);
    for (const day of days) expect(await keys(`${HOURLY_PREFIX}date=${day}/`)).toEqual([]);
    expect(await keys("readings/")).toEqual([reading]);
    expect(await keys(older)).toEqual([older]);

    const ids =
      (await athena.send(new ListQueryExecutionsCommand({ WorkGroup: target.workGroup })))
        .QueryExecutionIds ?? [];
    // One by one: moto answers no BatchGetQueryExecution.
    const unloads: string[] = [];
    for (const id of ids) {
      const { QueryExecution } = await athena.send(
        new GetQueryExecutionCommand({ QueryExecutionId: id }),
      );
      unloads.push(QueryExecution?.Query ?? "");
    }
    unloads.sort();
    expect(unloads).toHaveLength(3);
    for (const [i, day] of days.entries()) {
      const sql = unloads[i] ?? "";
      expect(sql).toMatch(/^UNLOAD \(/);
      expect(sql).toContain(`WHERE date = '${day}'`);
      expect(sql).toContain(`TO 's3://${bucket}/${HOURLY_PREFIX}date=${day}/'`);
      expect(sql).toContain("PARTITION BY container_id, seq");
      expect(sql).toContain("format = 'PARQUET'");
      // Over the product table's thresholds, as the Flink job and the edge count.
      expect(sql).toContain("count_if(temperature > CASE product_id");
      expect(sql).toContain("WHEN 'P06' THEN 8");
    }
  });
});
