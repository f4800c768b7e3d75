import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { Outbox } from "../../agent/outbox/outbox.js";
import { topicFor } from "../../agent/publisher/topics.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import type { Identity, TestPki } from "../support/pki.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";
import { timedDrain } from "./timed-drain.js";

/** Fills an outbox with `count` readings of 4 containers, as after a long outage. */
function fill(path: string, count: number): Outbox {
  const outbox = new Outbox({ path, maxBytes: 1 << 30, durability: "full", now: () => Date.now() });
  const batch = Array.from({ length: 1000 }, (_, i) => makeReading(`C0${i % 4}`));
  for (let n = 0; n < count; n += batch.length)
    outbox.capture(batch.slice(0, Math.min(batch.length, count - n)));
  return outbox;
}

/** Seconds for the real Publisher to empty an outbox of `count` readings into the broker. */
async function drainWithPublisher(
  dir: string,
  name: string,
  count: number,
  envelopeBytes: number,
  broker: MosquittoBroker,
  pki: TestPki,
): Promise<number> {
  const outbox = fill(join(dir, `${name}.db`), count);
  const { seconds } = await timedDrain(outbox, broker, pki, {
    envelopeBytes,
    // Unlimited: this compares the publisher with a raw client, not with IoT Core's quotas.
    limits: { messagesPerSecond: 1_000_000, bytesPerSecond: 1 << 30 },
  });
  return seconds;
}

/** Seconds for a plain MQTT.js client to publish the same readings at QoS 1, all acknowledged. */
async function drainRaw(
  count: number,
  broker: MosquittoBroker,
  pki: TestPki,
  identity: Identity,
): Promise<number> {
  const payloads = Array.from({ length: 4 }, (_, i) =>
    JSON.stringify({ ...makeReading(`C0${i}`), seq: 1 }),
  );
  const start = process.hrtime.bigint();
  const client = await mqtt.connectAsync(broker.url, {
    ca: readFileSync(pki.caCert),
    cert: readFileSync(identity.cert),
    key: readFileSync(identity.key),
    clientId: "gw-0001",
    protocolVersion: 5,
  });
  // A window of in-flight publishes, as the publisher has: with all 100,000 at once MQTT.js runs out of its 65,535
  // message ids and silently loses callbacks (the reason the publisher caps its in-flight count).
  const window = 100; // the same cap as the publisher's default mqtt.maxInflight
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const topic = topicFor("gw-0001", `C0${i % 4}`, "telemetry");
      await client.publishAsync(topic, payloads[i % 4] ?? "", { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await client.endAsync();
  return seconds;
}

export async function benchDrain(
  dir: string,
  count: number,
  broker: MosquittoBroker,
  pki: TestPki,
): Promise<BenchResult[]> {
  const identity = pki.client("gw-0001");
  const raw = await drainRaw(count, broker, pki, identity);
  const single = await drainWithPublisher(dir, "drain-single", count, 1024, broker, pki);
  const enveloped = await drainWithPublisher(dir, "drain-envelope", count, 100_000, broker, pki);
  const note =
    "baseline publishes one reading a message from memory; reefer-edge reads SQLite, caps 100 messages in flight, and deletes each acknowledged row durably";
  return [
    {
      name: `drain ${count.toLocaleString("en-US")} buffered readings, one a message (envelopeBytes 1024)`,
      unit: "readings/s",
      value: count / single,
      baselineName: "raw MQTT.js QoS 1",
      baseline: count / raw,
      target: "≥ 0.5× raw",
      targetRatio: 0.5,
      note,
    },
    {
      name: `drain ${count.toLocaleString("en-US")} buffered readings, backfill envelopes (default 100 kB)`,
      unit: "readings/s",
      value: count / enveloped,
      baselineName: "raw MQTT.js QoS 1",
      baseline: count / raw,
      target: "≥ 0.5× raw",
      targetRatio: 0.5,
    },
  ];
}
