import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { Metrics } from "../metrics.js";
import type { Outbox } from "../outbox/outbox.js";
import { GuardedOutbox } from "./guarded-outbox.js";

const T0 = Date.UTC(2026, 11, 4, 12);

/** A card that answers EIO while `dead` is set, as the kernel reports a removed card. */
function failingDisk() {
  const state = { dead: true, opens: 0 };
  const eio = () => Object.assign(new Error("EIO: i/o error, open"), { code: "EIO" });
  return { state, eio };
}

describe("GuardedOutbox: the outbox through failing storage", () => {
  const outboxes = useOutboxes();
  let wall = T0;
  let mono = 0;
  const clock = { now: () => wall, monotonic: () => mono };
  beforeEach(() => {
    vi.useFakeTimers();
    wall = T0;
    mono = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function guard(open: () => Outbox, recovered = () => {}) {
    const metrics = new Metrics();
    const box = new GuardedOutbox({
      open,
      path: outboxes.path,
      gatewayId: "gw-1",
      containers: new Map([
        ["C01", "P01"],
        ["C02", "P02"],
      ]),
      clock,
      logger: pino({ level: "silent" }),
      metrics,
      memoryRows: 100,
      clearAfterMs: 60_000,
      retryMs: { first: 1000, max: 4000 },
      recovered,
    });
    return { box, metrics };
  }

  it("starts on a dead disk from memory, with seqs from the wall clock, and goes to the disk when it returns", () => {
    const { state, eio } = failingDisk();
    let recovered = 0;
    const { box, metrics } = guard(
      () => {
        state.opens++;
        if (state.dead) throw eio();
        return outboxes.open();
      },
      () => recovered++,
    );
    box.start();
    expect(box.current).toBeNull();
    expect(box.storage).toMatchObject({ failing: true, reason: "EIO: i/o error, open" });
    // The raise waits for the next commit, one record a container.
    const raised = box.storageAlerts();
    expect(raised.map((a) => [a.container_id, a.state, a.severity])).toEqual([
      ["C01", "raised", "critical"],
      ["C02", "raised", "critical"],
    ]);

    const first = box.nextSeqs([makeReading("C01"), makeReading("C01"), makeReading("C02")]);
    expect(first.map((r) => r.seq)).toEqual([T0 + 1, T0 + 2, T0 + 1]);
    const result = box.commit({
      readings: first,
      alerts: raised.map((a) => ({ containerId: a.container_id, payload: a })),
    });
    expect(result.stored).toBe(false);
    expect(metrics.get("readings_not_stored")).toBe(3);
    // The publisher drains memory: alerts first, then readings as live traffic.
    box.beginSession();
    expect(box.takeAlerts(10).map((r) => r.containerId)).toEqual(["C01", "C02"]);
    const live = box.takeLive(10);
    expect(live.map((r) => r.seq)).toEqual([T0 + 1, T0 + 2, T0 + 1]);
    box.accept([live[0]?.id ?? 0]); // C01's first reached the broker
    box.release(live.slice(1));

    // Retries wait 1 s, then 2 s, then 4 s at most.
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(2000);
    expect(state.opens).toBe(3);
    state.dead = false;
    vi.advanceTimersByTime(4000);
    expect(box.current).not.toBeNull();
    expect(recovered).toBe(1);
    // What memory held, less what the broker has, is now on the disk, alerts included.
    const stored = box.current?.query<{ container_id: string; seq: number | null }>(
      "SELECT container_id, seq FROM outbox ORDER BY id",
    );
    expect(stored).toEqual([
      { container_id: "C01", seq: T0 + 2 },
      { container_id: "C02", seq: T0 + 1 },
      { container_id: "C01", seq: null },
      { container_id: "C02", seq: null },
    ]);
    // Seqs go on above what memory gave out, never reusing one.
    const next = box.nextSeqs([makeReading("C01"), makeReading("C02")]);
    expect(next.map((r) => r.seq)).toEqual([T0 + 3, T0 + 2]);
    expect(box.commit({ readings: next }).stored).toBe(true);

    // Cleared only after a minute of working storage.
    mono += 59_000;
    box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
    expect(box.storageAlerts()).toEqual([]);
    mono += 1_000;
    box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
    const cleared = box.storageAlerts();
    expect(cleared.map((a) => [a.container_id, a.state, a.readings_not_stored])).toEqual([
      ["C01", "cleared", 3],
      ["C02", "cleared", 3],
    ]);
    expect(box.storage.failing).toBe(false);
    box.close();
  });

  it("bounds memory: the oldest readings go first, counted, alerts stay", () => {
    const { eio } = failingDisk();
    const { box, metrics } = guard(() => {
      throw eio();
    });
    box.start();
    const alerts = box.storageAlerts().map((a) => ({ containerId: a.container_id, payload: a }));
    box.commit({ readings: box.nextSeqs([makeReading("C01")]), alerts });
    for (let i = 0; i < 120; i++) box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
    expect(box.pending()).toEqual({ alerts: 2, telemetry: 98 });
    expect(metrics.get("readings_dropped", { reason: "storage_failing" })).toBe(23);
    box.beginSession();
    expect(box.takeLive(1)[0]?.seq).toBe(T0 + 24);
    box.close();
  });

  it("throws what is not a storage failure: another agent's lock is not a broken disk", () => {
    const { box } = guard(() => {
      throw Object.assign(new Error("held"), { code: "SQLITE_BUSY" });
    });
    expect(() => box.start()).toThrow("held");
  });
});
