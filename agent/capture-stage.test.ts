import { afterEach, describe, expect, it } from "vitest";
import { rulesSchema } from "../config/rules-schema.js";
import type { AlertRecord } from "../core/alerts.js";
import type { Clock } from "../core/clock.js";
import { EventEmitter } from "node:events";
import type { AgentEventMap, AgentEvents } from "../core/events.js";
import { Metrics } from "../core/metrics.js";
import { BUILTIN_PRODUCTS, type Product } from "../core/products.js";
import type { ReeferReading } from "../core/record.js";
import { captureLogs } from "../test/support/logs.js";
import { makeReading } from "../test/support/readings.js";
import { CaptureStage } from "./capture-stage.js";
import { ClockCorrection } from "./clock-correction.js";
import { ClockGuard } from "./clock-guard.js";
import { DiskFullError } from "./outbox/disk-full.js";
import { Outbox, type CaptureBatch } from "./outbox/outbox.js";
import { DeviceWatch } from "./rules/device-watch.js";
import { RuleEngine } from "./rules/engine.js";
import { ReportByException } from "./rules/report-by-exception.js";
import type { CaptureStore, GuardedCaptureResult } from "./storage/capture-store.js";
import type { Tick } from "./tick.js";

const T0 = Date.UTC(2026, 10, 25, 12);
const carrots = BUILTIN_PRODUCTS[0] as Product;

/**
 * The CaptureStore port over a real outbox in memory, with the one fault a store can answer a
 * commit with: a disk full even after evicting (DiskFullError), for the next `fullFor` commits.
 * Durability is deferred until `sync()`, as the background WAL sync defers it.
 */
class TestStore implements CaptureStore {
  readonly outbox = new Outbox({
    path: ":memory:",
    maxBytes: 1 << 30,
    durability: "full",
    now: () => T0,
  });
  readonly commits: CaptureBatch[] = [];
  fullFor = 0;
  private waiting: (() => void)[] = [];

  nextSeqs(readings: Parameters<Outbox["nextSeqs"]>[0]): ReeferReading[] {
    return this.outbox.nextSeqs(readings);
  }
  lastSeq(containerId: string): number {
    return this.outbox.lastSeq(containerId);
  }
  commit(batch: CaptureBatch): GuardedCaptureResult {
    if (this.fullFor > 0) {
      this.fullFor--;
      throw new DiskFullError(batch.readings?.length ?? 0, batch.alerts?.length ?? 0);
    }
    this.commits.push(batch);
    return { ...this.outbox.commit(batch), stored: true };
  }
  afterDurable(callback: () => void): void {
    this.waiting.push(callback);
  }
  storageAlerts() {
    return [];
  }
  sync(): void {
    for (const callback of this.waiting.splice(0)) callback();
  }
}

function stage(options: { raiseAfterReadings?: number } = {}) {
  const clock: Clock = { now: () => T0, monotonic: () => 0 };
  const metrics = new Metrics();
  const events: AgentEvents = new EventEmitter<AgentEventMap>();
  const logs = captureLogs("debug");
  const store = new TestStore();
  const containers = new Map([["C1", carrots]]);
  const rules = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({
      temperature: { raiseAfterReadings: options.raiseAfterReadings ?? 1 },
    }),
    containers,
  });
  const captured: ReeferReading[][] = [];
  const alerts: AlertRecord[][] = [];
  let committed = 0;
  events.on("captured", (readings) => captured.push([...readings]));
  events.on("alert", (list) => alerts.push([...list]));
  const capture = new CaptureStage({
    outbox: store,
    rules,
    reportByException: new ReportByException(new Map()),
    devices: new DeviceWatch("gw", new Map([["C1", carrots.id]]), new Map()),
    clockCorrection: new ClockCorrection(new ClockGuard(clock), store.outbox, logs.logger, metrics),
    clock,
    logger: logs.logger,
    metrics,
    events,
    committed: () => committed++,
  });
  return { capture, store, metrics, captured, alerts, committed: () => committed, logs };
}

function tick(...temperatures: number[]): Tick {
  return {
    samples: temperatures.map((temperature, i) => {
      const t = T0 + i * 1000;
      return { reading: makeReading("C1", t, { temperature }), t };
    }),
    failures: [],
    clock: { state: "synced", epoch: null, offset: 0, corrections: [] },
  };
}

describe("CaptureStage", () => {
  const stores: TestStore[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.outbox.close();
  });

  it("gives a tick's readings their seqs and stores them with the alerts they raised in one commit", () => {
    const s = stage();
    stores.push(s.store);
    s.capture.capture(tick(5, 25));
    expect(s.store.commits).toHaveLength(1);
    const [batch] = s.store.commits;
    expect(batch?.readings?.map((r) => r.seq)).toEqual([1, 2]);
    expect(batch?.alerts?.map((a) => (a.payload as AlertRecord).alert_type)).toEqual([
      "temperature_excursion",
    ]);
    expect(s.alerts.flat().map((a) => a.alert_type)).toEqual(["temperature_excursion"]);
    expect(s.metrics.get("alerts", { type: "temperature_excursion", state: "raised" })).toBe(1);
  });

  it("tells of a capture, and lets the publisher send, only once the commit is durable", () => {
    const s = stage();
    stores.push(s.store);
    s.capture.capture(tick(5));
    expect(s.captured).toEqual([]);
    expect(s.committed()).toBe(0);
    s.store.sync();
    expect(s.captured.flat().map((r) => r.seq)).toEqual([1]);
    expect(s.committed()).toBe(1);
  });

  it("carries a tick's alerts into the next commit when the disk is full even after evicting; its readings are counted as dropped", () => {
    const s = stage();
    stores.push(s.store);
    s.store.fullFor = 1;
    s.capture.capture(tick(25));
    expect(s.store.commits).toEqual([]);
    expect(s.metrics.get("readings_dropped", { reason: "disk_full" })).toBe(1);
    expect(s.capture.lastFailure?.reason).toMatch(/disk is full/);
    // The next tick commits the carried excursion along with its own reading.
    s.capture.capture(tick(26));
    expect(s.store.commits).toHaveLength(1);
    expect(s.store.commits[0]?.alerts?.map((a) => (a.payload as AlertRecord).alert_type)).toEqual([
      "temperature_excursion",
    ]);
    expect(s.store.commits[0]?.readings?.map((r) => r.temperature)).toEqual([26]);
  });

  it("reports the windows still open at a graceful stop, in a commit of their own", () => {
    const s = stage({ raiseAfterReadings: 100 });
    stores.push(s.store);
    s.capture.capture(tick(25, 26));
    expect(s.store.commits).toHaveLength(1);
    s.store.sync();
    const before = s.committed();
    s.capture.flush();
    expect(s.store.commits).toHaveLength(2);
    // The publisher hears of them once they are durable, as of a tick's commit.
    expect(s.committed()).toBe(before);
    s.store.sync();
    expect(s.committed()).toBe(before + 1);
    expect(s.store.commits[1]?.readings).toBeUndefined();
    expect(s.store.commits[1]?.alerts?.map((a) => (a.payload as AlertRecord).alert_type)).toContain(
      "temperature_window",
    );
  });

  it("commits nothing for a tick with no readings, no alerts and nothing held", () => {
    const s = stage();
    stores.push(s.store);
    s.capture.capture({ ...tick(), samples: [] });
    expect(s.store.commits).toEqual([]);
  });
});
