import { join } from "node:path";
import { Outbox } from "../../agent/outbox/outbox.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import type { TestPki } from "../support/pki.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";
import { timedDrain } from "./timed-drain.js";

const T0 = Date.UTC(2026, 9, 26);

/**
 * Backfill of one container's outage through the rate limiter set to IoT Core's quotas
 * (100 publishes/s, 512 KiB/s), against Mosquitto with mTLS: the time taken against the bound the
 * byte quota sets for the bytes actually sent. 30 days at 10 s sampling is 259,200 readings.
 */
export async function benchBackfill(
  dir: string,
  readings: number,
  broker: MosquittoBroker,
  pki: TestPki,
): Promise<BenchResult> {
  const outbox = new Outbox({
    path: join(dir, "backfill.db"),
    maxBytes: 1 << 30,
    durability: "normal",
    now: () => Date.now(),
  });
  const batch: ReturnType<typeof makeReading>[] = [];
  for (let i = 0; i < readings; i++) {
    batch.push(makeReading("MSKU1234565", T0 + i * 10_000));
    if (batch.length === 1000 || i === readings - 1) outbox.capture(batch.splice(0));
  }
  // At the config's defaults: IoT Core's quotas.
  const { seconds, metrics, config } = await timedDrain(outbox, broker, pki);
  const bytes = metrics.get("bytes_sent");
  const bound = bytes / config.publish.maxBytesPerSecond;
  return {
    name: `backfill of ${readings.toLocaleString("en-US")} readings (${((readings * 10) / 86_400).toFixed(1)} days at 10 s) at IoT Core's quotas`,
    unit: "s",
    value: seconds,
    baselineName: "bytes sent / 512 KiB/s",
    baseline: bound,
    target: "≤ 1.2× the bound",
    targetRatio: 1.2,
    lowerIsBetter: true,
    note: `${(bytes / 1_048_576).toFixed(1)} MiB in ${metrics.total("published")} readings, ${metrics.get("published", { kind: "backfill" }) > 0 ? "as backfill envelopes" : ""}; ${seconds / bound <= 1.2 ? "target met" : "TARGET NOT MET"}`,
  };
}
