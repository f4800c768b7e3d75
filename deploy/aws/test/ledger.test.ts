import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LEDGER_PREFIX, writeToLedger } from "../lambda/ledger/ledger.js";
import { MotoServer, requireMoto } from "./support/moto.js";

/**
 * The ledger writer against moto's S3, into a bucket made as the Ingest stack makes it: Object
 * Lock on, a default retention in COMPLIANCE mode.
 */
const moto = requireMoto();

describe.skipIf(moto.skip)("the audit ledger's writer", () => {
  let server: MotoServer;
  let s3: S3Client;
  const bucket = "ledger";

  beforeAll(async () => {
    server = await MotoServer.start();
    s3 = new S3Client({ ...server.clientConfig(), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 1 } },
        },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  const checkpoint = {
    schema: "reefer.checkpoint.v1",
    gateway_id: "gw-0001",
    note: "reefer-edge/gw-0001/0a1b2c3d\n3\nAAAA\n\n— reefer-edge/gw-0001 sig\n",
  };

  it("keeps a checkpoint whole, locked, under its gateway and day, named by its content", async () => {
    const key = await writeToLedger(s3, bucket, checkpoint, new Date("2026-12-05T10:00:00Z"));
    expect(key).toMatch(
      new RegExp(
        `^${LEDGER_PREFIX}gateway=gw-0001/date=2026-12-05/checkpoint-[0-9a-f]{64}\\.json$`,
      ),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(JSON.parse((await object.Body?.transformToString()) ?? "")).toEqual(checkpoint);
    // Locked by the bucket's default retention. (HeadObject: moto's GetObjectRetention answers
    // XML the SDK cannot parse.)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(head.ObjectLockRetainUntilDate?.getTime()).toBeGreaterThan(Date.now());
    // The same message delivered twice is the same object name.
    expect(await writeToLedger(s3, bucket, checkpoint, new Date("2026-12-05T10:00:00Z"))).toBe(key);
  });

  /** Writes `message` as the ledger Lambda does on 2026-12-05, and reads back what S3 keeps. */
  async function keptWhole(message: Record<string, unknown>) {
    const key = await writeToLedger(s3, bucket, message, new Date("2026-12-05T10:00:00Z"));
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { key, kept: JSON.parse((await object.Body?.transformToString()) ?? "") as unknown };
  }

  it("keeps gap records of both versions, named as gaps", async () => {
    const v2 = {
      schema: "reefer.gap.v2",
      gateway_id: "gw-0001",
      reason: "evicted",
      since: "2026-12-05T09:00:00.000Z",
      at: "2026-12-05T09:01:00.000Z",
      ranges: [{ from: 4, to: 8, hashes: ["AAAA"] }],
      readings: [{ container_id: "MSKU1234565", seqs: [[5, 8]] }],
      log_id: "0a1b2c3d",
      log_index: 9,
    };
    const v1 = { schema: "reefer.gap.v1", gateway_id: "gw-0001", reason: "evicted", leaves: [] };
    for (const gap of [v2, v1]) {
      const { key, kept } = await keptWhole(gap);
      expect(key).toMatch(/\/gap-[0-9a-f]{64}\.json$/);
      expect(kept).toEqual(gap);
    }
  });

  it("keeps the edge's alerts, leaves of the gateway's log, named as alerts", async () => {
    const alert = {
      schema: "reefer.alert.v1",
      alert_id: "MSKU1234565:temperature_excursion:1764928800000",
      alert_type: "temperature_excursion",
      severity: "critical",
      container_id: "MSKU1234565",
      gateway_id: "gw-0001",
      product_id: "P01",
      first_seq: 40,
      last_seq: 40,
      state: "raised",
      alert_time: "2026-12-05T09:00:00.000Z",
      since: "2026-12-05T08:55:00.000Z",
      value: 9.5,
      limit: 8,
      log_id: "0a1b2c3d",
      log_index: 41,
    };
    const { key, kept } = await keptWhole(alert);
    expect(key).toMatch(/^audit\/gateway=gw-0001\/date=2026-12-05\/alert-[0-9a-f]{64}\.json$/);
    expect(kept).toEqual(alert);
  });

  it("refuses what is neither an audit message nor an alert, naming its schema", async () => {
    await expect(
      writeToLedger(s3, bucket, { schema: "reefer.telemetry.v1", gateway_id: "gw-0001" }),
    ).rejects.toThrow('not an audit message or an alert: schema "reefer.telemetry.v1"');
    await expect(writeToLedger(s3, bucket, { gateway_id: "gw-0001", seq: 1 })).rejects.toThrow(
      "not an audit message or an alert: schema undefined",
    );
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: LEDGER_PREFIX }),
    );
    expect(
      listed.Contents?.map((o) => o.Key).every((k) => /\/(checkpoint|gap|alert)-/.test(k ?? "")),
    ).toBe(true);
  });

  it("is what S3 asks of a locked bucket: a PUT without a checksum is refused there", async () => {
    const bare = new S3Client({
      ...server.clientConfig(),
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    await expect(
      bare.send(new PutObjectCommand({ Bucket: bucket, Key: "audit/bare.json", Body: "{}" })),
    ).rejects.toThrow(/Content-MD5|checksum/i);
  });
});
