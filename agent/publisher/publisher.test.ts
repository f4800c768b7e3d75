import { EventEmitter } from "node:events";
import mqtt, { type MqttClient } from "mqtt";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validateConfig } from "../../config/load.js";
import { FaultProxy } from "../../test/support/fault-proxy.js";
import { makeReading } from "../../test/support/readings.js";
import { systemClock } from "../../core/clock.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../test/support/embedded-broker.js";
import type { AgentEventMap } from "../../core/events.js";
import { Metrics } from "../../core/metrics.js";
import { Outbox } from "../outbox/outbox.js";
import { Publisher } from "./publisher.js";
import { BACKFILL_SCHEMA } from "./topics.js";
import { waitFor } from "../../test/support/wait-for.js";

/**
 * The publisher alone, fast: an in-memory outbox, the embedded broker (aedes) on loopback and a
 * subscriber that records what arrives, in order. Reconnection goes through a fault proxy that
 * cuts the TCP connection, as a lost link does.
 */
let broker: EmbeddedBroker;
let proxy: FaultProxy;
let outbox: Outbox;
let watcher: MqttClient;
let arrived: { topic: string; body: Record<string, unknown> }[];
let publisher: Publisher | null;
const metrics = new Metrics();

beforeEach(async () => {
  broker = await startEmbeddedBroker();
  proxy = await FaultProxy.start(Number(new URL(broker.url).port));
  outbox = new Outbox({ path: ":memory:", maxBytes: 1 << 30, durability: "normal", now: Date.now });
  arrived = [];
  watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  watcher.on("message", (topic, payload) => {
    arrived.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  await watcher.subscribeAsync("dt/reefer/#", { qos: 1 });
  publisher = null;
});
afterEach(async () => {
  await publisher?.stop(100);
  await watcher.endAsync(true);
  await proxy.close();
  await broker.close();
  outbox.close();
});

function start(options: { envelopeBytes?: number; observe?: () => void } = {}): Publisher {
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-pub" },
      mqtt: {
        url: `mqtt://127.0.0.1:${proxy.port}`,
        protocolVersion: 4,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1000, stableAfterMs: 1000 },
      },
      containers: [{ id: "C1", product: "P01", driver: { type: "simulated" } }],
    },
    "publisher test",
  );
  publisher = new Publisher({
    gatewayId: "gw-pub",
    mqtt: config.mqtt,
    envelopeBytes: options.envelopeBytes ?? config.publish.envelopeBytes,
    limits: { messagesPerSecond: 10_000, bytesPerSecond: 1 << 30 },
    tls: { warnings: [] },
    queue: outbox,
    clock: systemClock,
    logger: pino({ level: "silent" }),
    metrics,
    events: new EventEmitter<AgentEventMap>(),
    random: () => 0.5,
    ...(options.observe && { clockCorrection: { observe: options.observe } }),
  });
  publisher.start();
  return publisher;
}

const until = (what: string, done: () => boolean) => waitFor(what, done, 10_000, { everyMs: 10 });

const seqsArrived = () =>
  arrived.flatMap(({ topic, body }) =>
    topic.endsWith("/backfill")
      ? (body.readings as { seq: number }[]).map((r) => r.seq)
      : topic.endsWith("/telemetry")
        ? [body.seq as number]
        : [],
  );

const distinctReadings = () =>
  new Set(
    arrived.flatMap(({ topic, body }) =>
      (topic.endsWith("/backfill") ? (body.readings as Record<string, unknown>[]) : [body]).map(
        (r) => `${String(r.container_id)}#${String(r.seq)}`,
      ),
    ),
  );

describe("Publisher", () => {
  it("sends alerts first, then live readings one a message, then the backlog in envelopes", async () => {
    outbox.capture([makeReading("C1"), makeReading("C1"), makeReading("C1")]); // backlog
    outbox.capture([], [{ containerId: "C1", payload: { alert_type: "power_off" } }]);
    let observedBeforeSession = false;
    const p = start({ observe: () => (observedBeforeSession = true) });
    await until("the connection", () => p.isConnected);
    expect(observedBeforeSession).toBe(true);
    outbox.capture([makeReading("C1")]); // live, captured during the session
    p.kick();
    await until("everything", () => seqsArrived().length === 4 && outbox.pending().telemetry === 0);
    const kinds = arrived.map((m) => m.topic.split("/").pop());
    expect(kinds[0]).toBe("alert");
    expect(arrived.find((m) => m.topic.endsWith("/backfill"))?.body).toMatchObject({
      schema: BACKFILL_SCHEMA,
    });
    expect(arrived.every((m) => m.topic.startsWith("dt/reefer/gw-pub/C1/"))).toBe(true);
    expect(seqsArrived().sort()).toEqual([1, 2, 3, 4]);
    await until("acknowledgements recorded", () => outbox.pending().alerts === 0);
  });

  it("splits the backlog into envelopes no larger than envelopeBytes", async () => {
    outbox.capture(Array.from({ length: 40 }, () => makeReading("C1")));
    start({ envelopeBytes: 2_000 });
    await until("the backlog", () => seqsArrived().length === 40);
    const envelopes = arrived.filter((m) => m.topic.endsWith("/backfill"));
    expect(envelopes.length).toBeGreaterThan(5);
    for (const e of envelopes)
      expect(Buffer.byteLength(JSON.stringify(e.body))).toBeLessThanOrEqual(2_000);
    // In seq order within and across envelopes of one container.
    expect(seqsArrived()).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("sends again what was in flight when the link dropped: at least once, nothing lost", async () => {
    const p = start();
    await until("the connection", () => p.isConnected);
    for (let tick = 0; tick < 20; tick++) {
      outbox.capture([makeReading("C1"), makeReading("C2")]);
      p.kick();
      if (tick === 10) proxy.reset();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until(
      "all 40 readings",
      () => distinctReadings().size >= 40 && outbox.pending().telemetry === 0,
    );
    expect(distinctReadings().size).toBe(40);
    expect(metrics.get("connects")).toBeGreaterThanOrEqual(2);
  });

  it("moves a reading too large for the broker to the dead-letter table without sending it", async () => {
    outbox.capture([makeReading("C1", undefined, { product_id: "x".repeat(140_000) })]);
    outbox.capture([makeReading("C1")]);
    start();
    await until("the small one", () => seqsArrived().includes(2));
    await until("the dead letter", () => outbox.pending().telemetry === 0);
    expect(seqsArrived()).toEqual([2]);
    const dead = outbox.query<{ seq: number; reason: string }>(
      "SELECT seq, reason FROM dead_letter",
    );
    expect(dead).toEqual([
      { seq: 1, reason: expect.stringContaining("exceeds the broker limit") as unknown },
    ]);
  });
});
