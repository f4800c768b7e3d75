import { afterEach, describe, expect, it, vi } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import type { AlertRecord } from "../../core/alerts.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import { makeReading } from "../../test/support/readings.js";
import { containerInfo, StatusFixture } from "../../test/support/gateway-status.js";
import { RuleEngine } from "../rules/engine.js";
import { GatewayFeed, type FeedEvent } from "./gateway-feed.js";

const NOW = Date.UTC(2026, 11, 5, 12);

/** Real alerts, from the rule engine: an excursion raised by 25 °C, cleared by 2 °C. */
function excursion(): { raised: AlertRecord[]; cleared: AlertRecord[] } {
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({ temperature: { raiseAfterReadings: 1 } }),
    containers: new Map([["C1", BUILTIN_PRODUCTS[0] as Product]]),
  });
  const reading = (seq: number, temperature: number) => ({
    ...makeReading("C1", NOW - 10_000 + seq * 1000, { temperature }),
    seq,
  });
  const isExcursion = (a: AlertRecord) => a.alert_type === "temperature_excursion";
  return {
    raised: engine.evaluate([reading(1, 25)]).filter(isExcursion),
    cleared: engine.evaluate([reading(2, 2)]).filter(isExcursion),
  };
}

describe("GatewayFeed", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends a snapshot first, then readings and alerts as the gateway tells them; open alerts follow raise and clear", () => {
    const gateway = new StatusFixture("gw", [containerInfo("C1")]);
    const feed = new GatewayFeed(gateway, { now: () => NOW });
    const events: FeedEvent[] = [];
    const stop = feed.subscribe((e) => events.push(e));
    expect(events.map((e) => e.event)).toEqual(["snapshot"]);
    gateway.events.emit("captured", [{ ...makeReading("C1", NOW - 1000), seq: 1 }], true);
    const { raised, cleared } = excursion();
    expect(raised).toHaveLength(1);
    gateway.events.emit("alert", raised);
    expect(events.map((e) => e.event)).toEqual(["snapshot", "readings", "alerts"]);
    expect(feed.snapshot().history.C1?.t).toEqual([NOW - 1000]);
    expect(feed.snapshot().open.C1).toHaveLength(1);
    gateway.events.emit("alert", cleared);
    expect(feed.snapshot().open.C1 ?? []).toEqual([]);
    stop();
    feed.close();
  });

  it("sends the status each interval while someone watches, from the port's figures", () => {
    vi.useFakeTimers();
    const gateway = new StatusFixture("gw", [containerInfo("C1")]);
    gateway.glanceNow = { ...gateway.glanceNow, oldestCapturedAt: NOW - 5000, uptimeMs: 10_000 };
    gateway.statusNow = {
      ...gateway.statusNow,
      outbox: { ...gateway.statusNow.outbox, telemetry: 3, alerts: 1 },
    };
    const feed = new GatewayFeed(gateway, { now: () => NOW, statusIntervalMs: 1000 });
    const statuses: FeedEvent[] = [];
    const stop = feed.subscribe((e) => {
      if (e.event === "status") statuses.push(e);
    });
    vi.advanceTimersByTime(3000);
    expect(statuses).toHaveLength(3);
    expect(statuses[0]?.data).toMatchObject({
      connection: "connected",
      broker: "mqtts://broker.test:8883",
      outbox: { depth: 4, oldestAgeMs: 5000 },
      uptimeSeconds: 10,
    });
    stop();
    vi.advanceTimersByTime(3000);
    expect(statuses).toHaveLength(3);
    feed.close();
  });
});
