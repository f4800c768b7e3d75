import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { Metrics } from "../../core/metrics.js";
import type { Outbox } from "../outbox/outbox.js";
import type { ReeferReading } from "../../core/record.js";
import { GuardedOutbox, SEQ_RESERVATION } from "./guarded-outbox.js";

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

  function guard(
    open: () => Outbox,
    recovered = () => {},
    behind: { writeBehindMs?: number; stored?: (r: readonly ReeferReading[]) => void } = {},
  ) {
    const metrics = new Metrics();
    const box = new GuardedOutbox({
      ...behind,
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
    box.queue.beginSession();
    expect(box.queue.takeAlerts(10).map((r) => r.containerId)).toEqual(["C01", "C02"]);
    const live = box.queue.takeLive(10);
    expect(live.map((r) => r.seq)).toEqual([T0 + 1, T0 + 2, T0 + 1]);
    box.queue.accept([live[0]?.id ?? 0]); // C01's first reached the broker
    box.queue.release(live.slice(1));

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
    box.queue.beginSession();
    expect(box.queue.takeLive(1)[0]?.seq).toBe(T0 + 24);
    box.close();
  });

  describe("write-behind", () => {
    /** A started GuardedOutbox with a 5 s write-behind; `stored` collects what it tells stored. */
    const behind = (): { box: GuardedOutbox; stored: number[] } => {
      const stored: number[] = [];
      const { box } = guard(
        () => outboxes.open(),
        () => {},
        { writeBehindMs: 5000, stored: (r) => stored.push(...r.map((x) => x.seq)) },
      );
      box.start();
      return { box, stored };
    };
    const rowsOnDisk = (box: GuardedOutbox) =>
      box.current?.query<{ seq: number }>("SELECT seq FROM outbox ORDER BY id").map((r) => r.seq);
    const lastSeqOnDisk = (box: GuardedOutbox, id: string) =>
      box.current?.query<{ last_seq: number }>(
        "SELECT last_seq FROM sequences WHERE container_id = ?",
        id,
      )[0]?.last_seq;

    it("publishes at once from memory and never writes what the broker acknowledged in time", () => {
      const { box, stored } = behind();
      box.queue.beginSession();
      const first = box.commit({
        readings: box.nextSeqs([makeReading("C01"), makeReading("C02")]),
      });
      expect(first.stored).toBe(false);
      // Seqs are reserved on disk before any reading with them can leave.
      expect(lastSeqOnDisk(box, "C01")).toBe(1 + SEQ_RESERVATION);
      const live = box.queue.takeLive(10);
      expect(live.map((r) => [r.containerId, r.seq])).toEqual([
        ["C01", 1],
        ["C02", 1],
      ]);
      box.queue.accept(live.map((r) => r.id));
      wall += 6000;
      box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
      expect(rowsOnDisk(box)).toEqual([]);
      expect(stored).toEqual([]);
      box.close();
    });

    it("writes what waited the write-behind time unacknowledged, in one commit, and tells it stored", () => {
      const { box, stored } = behind();
      for (let i = 0; i < 5; i++) {
        box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
        wall += 1000;
      }
      expect(rowsOnDisk(box)).toEqual([]);
      box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
      expect(rowsOnDisk(box)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(stored).toEqual([1, 2, 3, 4, 5, 6]);
      // A new connection finds them in the outbox (its backlog), each once, none in memory.
      box.queue.beginSession();
      expect(box.queue.takeLive(10)).toEqual([]);
      expect(box.queue.takeBackfill(1 << 20, 100).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      box.close();
    });

    it("a row in flight when it is written is settled by its acknowledgement, not sent twice", () => {
      const { box } = behind();
      box.queue.beginSession();
      box.commit({ readings: box.nextSeqs([makeReading("C01"), makeReading("C01")]) });
      const [first, second] = box.queue.takeLive(10);
      wall += 5000;
      box.commit({ readings: box.nextSeqs([makeReading("C01")]) }); // writes all three
      expect(rowsOnDisk(box)).toEqual([1, 2, 3]);
      // Only the one that was not in flight is taken from the outbox.
      expect(box.queue.takeLive(10).map((r) => r.seq)).toEqual([3]);
      box.queue.accept([first?.id ?? 0]);
      expect(rowsOnDisk(box)).toEqual([2, 3]);
      // Released (the link dropped): taken again, from the outbox.
      if (second) box.queue.release([second]);
      expect(box.queue.takeLive(10).map((r) => r.seq)).toEqual([2]);
      box.close();
    });

    it("writes alerts and held readings at once", () => {
      const { box } = behind();
      const readings = box.nextSeqs([makeReading("C01"), makeReading("C02")]);
      box.commit({
        readings,
        held: [true, false],
        alerts: [{ containerId: "C01", payload: { alert: 1 } }],
      });
      expect(
        box.current?.query<{ lane: number; seq: number | null }>(
          "SELECT lane, seq FROM outbox ORDER BY id",
        ),
      ).toEqual([
        { lane: 2, seq: 1 },
        { lane: 0, seq: null },
      ]);
      box.close();
    });

    it("stores what is left at a graceful stop and gives the unused reservation back", () => {
      const { box } = behind();
      box.commit({ readings: box.nextSeqs([makeReading("C01"), makeReading("C01")]) });
      box.close();
      const again = outboxes.open();
      expect(again.query<{ seq: number }>("SELECT seq FROM outbox ORDER BY id")).toEqual([
        { seq: 1 },
        { seq: 2 },
      ]);
      expect(again.lastSeq("C01")).toBe(2);
      again.close();
    });

    it("after a crash goes on above the reservation: no seq given twice", () => {
      const { box } = behind();
      box.commit({ readings: box.nextSeqs([makeReading("C01")]) });
      // A crash: nothing flushed, nothing given back (the handle closes as a dying process's would).
      box.current?.close();
      const { box: next } = guard(
        () => outboxes.open(),
        () => {},
        { writeBehindMs: 5000 },
      );
      next.start();
      expect(next.nextSeqs([makeReading("C01")])[0]?.seq).toBe(2 + SEQ_RESERVATION);
      next.close();
    });
  });

  it("throws what is not a storage failure: another agent's lock is not a broken disk", () => {
    const { box } = guard(() => {
      throw Object.assign(new Error("held"), { code: "SQLITE_BUSY" });
    });
    expect(() => box.start()).toThrow("held");
  });
});
