import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { LANE, ROW_OVERHEAD_BYTES, type OutboxOptions } from "./outbox.js";

const boxes = useOutboxes();
const outbox = (overrides: Partial<OutboxOptions> = {}) => boxes.open(overrides);

describe("capture", () => {
  it("numbers each container's readings from 1, and goes on after a restart", () => {
    let box = outbox();
    const first = box.capture([makeReading("C1"), makeReading("C2"), makeReading("C1")]);
    expect(first.readings.map((r) => [r.container_id, r.seq])).toEqual([
      ["C1", 1],
      ["C2", 1],
      ["C1", 2],
    ]);
    box.close();
    box = outbox();
    const second = box.capture([makeReading("C1"), makeReading("C2")]);
    expect(second.readings.map((r) => r.seq)).toEqual([3, 2]);
  });

  it("keeps rows that were taken but never acknowledged across a restart (a kill)", () => {
    let box = outbox();
    box.capture([makeReading("C1"), makeReading("C1")]);
    box.beginSession();
    expect(box.takeBackfill(1e6, 10)).toHaveLength(2);
    box.close(); // no accept: the process died with these in flight
    box = outbox();
    box.beginSession();
    const again = box.takeBackfill(1e6, 10);
    expect(again.map((r) => r.seq)).toEqual([1, 2]);
    expect(JSON.parse(again[0]?.payload ?? "{}")).toMatchObject({ container_id: "C1", seq: 1 });
  });

  it("captures nothing of a tick when one row fails, sequence numbers included", () => {
    const box = outbox();
    box.capture([makeReading("C1")]);
    const broken = makeReading("C2", undefined, { container_id: null as unknown as string });
    expect(() => box.capture([makeReading("C1"), broken])).toThrow(/NOT NULL/);
    expect(box.stats().telemetry).toBe(1);
    expect(box.capture([makeReading("C1")]).readings[0]?.seq).toBe(2);
  });
});

describe("lanes", () => {
  it("hands out alerts first, then live readings, then the backlog of earlier sessions", () => {
    const box = outbox();
    box.capture([makeReading("C1"), makeReading("C2")]); // before the connection: backlog
    box.beginSession();
    box.capture([makeReading("C1")], [{ containerId: "C1", payload: { alert_type: "x" } }]);
    expect(box.takeAlerts(10).map((r) => r.lane)).toEqual([LANE.alert]);
    expect(box.takeLive(10).map((r) => [r.containerId, r.seq])).toEqual([["C1", 2]]);
    const backfill = [
      box.takeBackfill(1e6, 10),
      box.takeBackfill(1e6, 10),
      box.takeBackfill(1e6, 10),
    ];
    expect(backfill.map((rows) => rows.map((r) => `${r.containerId}#${r.seq}`))).toEqual([
      ["C1#1"],
      ["C2#1"],
      [],
    ]);
  });

  it("packs a backfill batch up to the byte limit, in seq order, one container at a time", () => {
    const box = outbox();
    box.capture(Array.from({ length: 10 }, () => makeReading("C1")));
    box.capture(Array.from({ length: 3 }, () => makeReading("C2")));
    box.beginSession();
    const rowBytes =
      box.query<{ bytes: number }>("SELECT bytes FROM outbox LIMIT 1")[0]?.bytes ?? 0;
    const batches: string[][] = [];
    for (
      let rows = box.takeBackfill(rowBytes * 4, 100);
      rows.length > 0;
      rows = box.takeBackfill(rowBytes * 4, 100)
    ) {
      batches.push(rows.map((r) => `${r.containerId}#${r.seq}`));
    }
    expect(batches).toEqual([
      ["C1#1", "C1#2", "C1#3", "C1#4"],
      ["C2#1", "C2#2", "C2#3"],
      ["C1#5", "C1#6", "C1#7", "C1#8"],
      ["C1#9", "C1#10"],
    ]);
  });

  it("does not hand out a row twice while it is in flight, and again once released", () => {
    const box = outbox();
    box.beginSession();
    box.capture([makeReading("C1"), makeReading("C1"), makeReading("C1")]);
    const first = box.takeLive(2);
    expect(first.map((r) => r.seq)).toEqual([1, 2]);
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([3]);
    expect(box.takeLive(10)).toEqual([]);
    box.release(first);
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([1, 2]);
  });
});

describe("transactions", () => {
  it("deletes only acknowledged rows", () => {
    const box = outbox();
    box.beginSession();
    box.capture([makeReading("C1"), makeReading("C1")]);
    const [one] = box.takeLive(1);
    box.accept([one?.id ?? -1]);
    expect(box.stats().telemetry).toBe(1);
    expect(box.query<{ seq: number }>("SELECT seq FROM outbox")).toEqual([{ seq: 2 }]);
  });

  it("moves refused rows to the dead-letter table with the reason, counted", () => {
    let box = outbox({ now: () => 5_000 });
    box.beginSession();
    box.capture([makeReading("C1"), makeReading("C1")]);
    const rows = box.takeLive(10);
    box.reject([rows[0]?.id ?? -1], "not authorized (MQTT reason 135)");
    expect(box.stats()).toMatchObject({ telemetry: 1, deadLettered: 1 });
    expect(box.query("SELECT seq, reason, failed_at FROM dead_letter")).toEqual([
      { seq: 1, reason: "not authorized (MQTT reason 135)", failed_at: 5_000 },
    ]);
    box.close();
    box = outbox();
    expect(box.stats().deadLettered).toBe(1);
  });
});

describe("disk budget", () => {
  it("evicts the oldest telemetry first, never an alert while telemetry remains, and counts it", () => {
    const probe = outbox({ path: join(boxes.dir, "probe.db") });
    probe.capture([makeReading("C1")]);
    const rowCost = probe.stats().bytes;
    const box = outbox({ maxBytes: rowCost * 5 + ROW_OVERHEAD_BYTES });
    box.capture([], [{ containerId: "C1", payload: { alert_type: "temperature" } }]);
    for (let i = 0; i < 8; i++) box.capture([makeReading("C1")]);
    const stats = box.stats();
    expect(stats.alerts).toBe(1);
    expect(stats.evictedAlerts).toBe(0);
    expect(stats.evictedTelemetry).toBeGreaterThan(0);
    expect(stats.bytes).toBeLessThanOrEqual(rowCost * 5 + ROW_OVERHEAD_BYTES);
    const kept = box.query<{ seq: number }>("SELECT seq FROM outbox WHERE lane = 1 ORDER BY id");
    const seqs = kept.map((r) => r.seq);
    expect(seqs[seqs.length - 1]).toBe(8); // the newest survive
    expect(seqs[0]).toBe(8 - seqs.length + 1);
    expect(stats.evictedTelemetry).toBe(8 - seqs.length);
  });

  it("evicts alerts only once no telemetry is left", () => {
    const box = outbox({ maxBytes: 300 });
    const alert = {
      containerId: "C1",
      payload: { alert_type: "temperature", padding: "x".repeat(100) },
    };
    box.capture([makeReading("C1")], [alert, alert, alert]);
    const stats = box.stats();
    expect(stats.telemetry).toBe(0);
    expect(stats.evictedTelemetry).toBe(1);
    expect(stats.evictedAlerts).toBeGreaterThan(0);
    expect(stats.bytes).toBeLessThanOrEqual(300);
  });
});

describe("held readings (report by exception)", () => {
  it("keeps held rows out of the lanes until promoted, and counts the dropped ones", () => {
    const box = outbox();
    box.beginSession();
    box.capture(
      [makeReading("C1"), makeReading("C1"), makeReading("C1"), makeReading("C1")],
      [],
      [false, true, true, true],
    );
    expect(box.stats()).toMatchObject({ telemetry: 1, held: 3 });
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([1]);
    box.commit({ promote: new Map([["C1", [2, 3]]]) });
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([2, 3]);
    box.commit({ drop: new Map([["C1", [4]]]) });
    expect(box.stats()).toMatchObject({ telemetry: 3, held: 0, droppedByException: 1 });
  });

  it("commits a tick's readings, its alerts and the fate of earlier held readings together", () => {
    const box = outbox();
    box.capture([makeReading("C1"), makeReading("C1")], [], [true, true]);
    const readings = box.nextSeqs([makeReading("C1")]);
    expect(readings[0]?.seq).toBe(3);
    box.commit({
      readings,
      held: [true],
      alerts: [{ containerId: "C1", payload: { alert_type: "temperature_window" } }],
      promote: new Map([["C1", [1, 3]]]),
      drop: new Map([["C1", [2]]]),
    });
    expect(box.stats()).toMatchObject({
      telemetry: 2,
      held: 0,
      alerts: 1,
      droppedByException: 1,
    });
    // A sequence given out by nextSeqs is stored only by the commit that carries it.
    box.nextSeqs([makeReading("C1")]);
    expect(box.nextSeqs([makeReading("C1")])[0]?.seq).toBe(4);
  });

  it("publishes held rows left over by a previous process", () => {
    let box = outbox();
    box.capture([makeReading("C1"), makeReading("C1")], [], [true, true]);
    box.close();
    box = outbox();
    expect(box.stats()).toMatchObject({ telemetry: 2, held: 0 });
  });

  it("evicts held rows before publishable telemetry", () => {
    const probe = outbox({ path: join(boxes.dir, "probe.db") });
    probe.capture([makeReading("C1")]);
    const rowCost = probe.stats().bytes;
    const box = outbox({ maxBytes: rowCost * 3 });
    box.capture([makeReading("C1"), makeReading("C1")], [], [false, false]);
    box.capture([makeReading("C1")], [], [true]);
    box.capture([makeReading("C1")], [], [false]);
    expect(box.stats()).toMatchObject({ telemetry: 3, held: 0, evictedTelemetry: 1 });
  });
});

describe("a corrupt database at start", () => {
  it("is moved aside with its contents kept, and a fresh outbox carries on with higher seqs", () => {
    mkdirSync(join(boxes.dir, "data"), { recursive: true });
    writeFileSync(boxes.path, Buffer.alloc(8192, "this is not a sqlite database "));
    const box = outbox({ now: () => Date.UTC(2026, 10, 25, 12) });
    expect(box.recovery?.movedTo).toBe(`${boxes.path}.corrupt-2026-11-25T12-00-00-000Z`);
    expect(box.recovery?.reason).toMatch(/^SQLITE_NOTADB/);
    expect(
      readFileSync(box.recovery?.movedTo ?? "")
        .subarray(0, 11)
        .toString(),
    ).toBe("this is not");
    const [first] = box.capture([makeReading("C1")]).readings;
    expect(first?.seq).toBe(Date.UTC(2026, 10, 25, 12) + 1);
  });

  it("catches a truncated file too", () => {
    const box = outbox();
    box.capture(Array.from({ length: 2000 }, () => makeReading("C1")));
    box.close();
    const size = statSync(boxes.path).size;
    truncateSync(boxes.path, Math.floor(size / 2));
    const reopened = outbox({ now: () => Date.UTC(2027, 0, 1) });
    expect(reopened.recovery).not.toBeNull();
    expect(existsSync(reopened.recovery?.movedTo ?? "")).toBe(true);
    expect(reopened.stats().telemetry).toBe(0);
  });
});
