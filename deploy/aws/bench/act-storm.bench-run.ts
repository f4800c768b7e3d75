import { ScanCommand } from "@aws-sdk/client-dynamodb";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { performance } from "node:perf_hooks";
import { it } from "vitest";
import { act, type ActDeps } from "../lambda/act/handler.js";
import { createActPeers, MotoServer, requireMoto } from "../test/support/moto.js";

/**
 * An alert storm through the act Lambda, against moto: the worst case the issue names, 333 alert
 * records a second (a third of the fleet raising one within 10 s), here 2,000 records of 500
 * containers. Two ways of taking them, in the same run:
 *
 * - baseline: as deployed before, one batch of a shard at a time (parallelization factor 1) and
 *   its records one after another;
 * - now: ten batches of a shard at once (parallelization factor 10, order kept per container) and
 *   each batch's containers concurrently.
 *
 * It prints records a second and the ratio. moto is one Python process answering every call, so
 * the figures are moto's ceiling, not AWS's; the ratio is what the change buys. Every alert must
 * end as one item, or the run fails.
 *
 * npm run bench:act (in deploy/aws; needs moto: pip install -r requirements.txt)
 */
const RECORDS = Number(process.env.ACT_STORM_RECORDS ?? 2000);
const CONTAINERS = 500;
const BATCH = 100;

function storm(tag: string): KinesisStreamRecord[] {
  return Array.from({ length: RECORDS }, (_, i) => {
    const container = `MSKU${String(i % CONTAINERS).padStart(7, "0")}`;
    const firstSeq = Math.floor(i / CONTAINERS) + 1;
    const alert = {
      schema: "reefer.alert.v1",
      alert_id: `${container}:temperature_excursion:${tag}${firstSeq}:raised`,
      alert_type: "temperature_excursion",
      severity: "critical",
      state: "raised",
      container_id: container,
      gateway_id: `gw-${container}`,
      product_id: "P02",
      first_seq: firstSeq,
      last_seq: firstSeq,
      alert_time: "2026-11-25T12:00:05.000Z",
      since: "2026-11-25T12:00:05.000Z",
      value: 24.5,
      limit: 18,
    };
    return {
      eventSource: "aws:kinesis",
      eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/faulty-reefers",
      eventID: `shardId-000000000000:${i}`,
      eventName: "aws:kinesis:record",
      eventVersion: "1.0",
      invokeIdentityArn: "arn:aws:iam::123456789012:role/act",
      awsRegion: "us-east-1",
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: container,
        sequenceNumber: String(i),
        approximateArrivalTimestamp: 0,
        data: Buffer.from(JSON.stringify(alert)).toString("base64"),
      },
    };
  });
}

/** Lambda's batches of a shard: `parallel` at once, each keyed records in stream order. */
async function run(
  records: KinesisStreamRecord[],
  deps: ActDeps,
  parallel: number,
  oneByOne: boolean,
) {
  const batches: KinesisStreamEvent[] = [];
  for (let i = 0; i < records.length; i += BATCH)
    batches.push({ Records: records.slice(i, i + BATCH) });
  const started = performance.now();
  for (let i = 0; i < batches.length; i += parallel) {
    await Promise.all(
      batches.slice(i, i + parallel).map(async (batch) => {
        if (!oneByOne) return act(batch, deps);
        for (const record of batch.Records) await act({ Records: [record] }, deps);
        return undefined;
      }),
    );
  }
  return records.length / ((performance.now() - started) / 1000);
}

const moto = requireMoto();

it.skipIf(moto.skip)(
  "act Lambda: an alert storm against moto",
  async () => {
    const server = await MotoServer.start();
    try {
      const { deps, ddbClient } = await createActPeers(server.clientConfig());
      const baseline = await run(storm("b"), deps, 1, true);
      const now = await run(storm("n"), deps, 10, false);
      let items = 0;
      let key: Record<string, never> | undefined;
      do {
        const page = await ddbClient.send(
          new ScanCommand({ TableName: "alerts", ExclusiveStartKey: key, Select: "COUNT" }),
        );
        items += page.Count ?? 0;
        key = page.LastEvaluatedKey as Record<string, never> | undefined;
      } while (key);
      if (items !== 2 * RECORDS) throw new Error(`${items} items for ${2 * RECORDS} alerts`);
      console.log(
        [
          `act Lambda, an alert storm of ${RECORDS} records of ${CONTAINERS} containers, against moto (${new Date().toISOString()}, node ${process.version}):`,
          "| way | records/s | ratio |",
          "| --- | --- | --- |",
          `| baseline: one batch at a time, one record after another | ${baseline.toFixed(0)} | 1.00× |`,
          `| now: 10 batches at once, a batch's containers concurrently | ${now.toFixed(0)} | ${(now / baseline).toFixed(2)}× |`,
          `The storm's worst case is 333 records/s; moto's single process bounds both figures. ${items} items, one per alert.`,
        ].join("\n"),
      );
    } finally {
      await server.stop();
    }
  },
  600_000,
);
