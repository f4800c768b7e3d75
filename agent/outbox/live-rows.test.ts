import Database from "better-sqlite3";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it, vi } from "vitest";

import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import { LiveRows } from "./live-rows.js";
import type { OutboxOptions } from "./outbox-types.js";
import { OutboxStore } from "./store.js";
import { LANE, type OutboxRow } from "./publish-queue.js";
import type { RowRecord } from "./statements.js";

const boxes = useOutboxes();

function row(id: number): RowRecord {
  return {
    id,
    lane: 1,
    container_id: "C1",
    seq: id,
    captured_at: 0,
    bytes: 2,
    payload: "{}",
  };
}

const none = () => false;
const ids = (rows: readonly { id: number }[] | null) => rows?.map((r) => r.id) ?? null;

describe("LiveRows", () => {
  it("answers for the rows committed after the ids it was made past, not for older ones", () => {
    const live = new LiveRows(10);
    for (const id of [11, 12, 13]) live.inserted(row(id));
    expect(ids(live.after(10, 13, 10, none))).toEqual([]); // not committed yet
    live.committed();
    expect(ids(live.after(9, 13, 10, none))).toBeNull(); // row 10 is the table's
    expect(ids(live.after(10, 12, 10, none))).toEqual([11, 12]); // up to the visible id
    expect(ids(live.after(12, 13, 10, none))).toEqual([13]);
    // Taken rows leave: a cursor moved back over them (a release) is the table's to answer.
    expect(ids(live.after(11, 13, 10, none))).toBeNull();
  });

  it("leaves out rows in flight and deleted rows, and keeps to the limit", () => {
    const live = new LiveRows(0);
    for (const id of [1, 2, 3, 4, 5]) live.inserted(row(id));
    live.committed();
    live.deleted(2);
    expect(ids(live.after(0, 5, 2, (id) => id === 3))).toEqual([1, 4]);
    // Inserted and deleted (evicted) in one transaction, with nothing committed held: never served.
    const fresh = new LiveRows(0);
    fresh.inserted(row(1));
    fresh.deleted(1);
    fresh.committed();
    expect(ids(fresh.after(0, 1, 10, none))).toEqual([]);
    expect(ids(live.after(4, 5, 2, none))).toEqual([5]);
  });

  it("starts over past every id given out: after a rollback or a rewrite, and when it holds too many", () => {
    const live = new LiveRows(0);
    live.inserted(row(1));
    live.committed();
    live.inserted(row(2));
    live.changed(0, 1); // an old row rewritten: none of the cache's
    expect(ids(live.after(0, 1, 10, none))).toEqual([1]);
    live.inserted(row(2));
    live.startOver(2); // the transaction of row 2 rolled back
    expect(ids(live.after(0, 2, 10, none))).toBeNull();
    expect(ids(live.after(2, 2, 10, none))).toEqual([]);
    // Offline, nothing takes: past 64 waiting the table answers again.
    for (let id = 3; id <= 70; id++) live.inserted(row(id));
    live.committed();
    expect(ids(live.after(2, 70, 100, none))).toBeNull();
    live.inserted(row(71));
    live.inserted(row(72));
    live.committed();
    live.changed(72, 72); // rewritten (a clock correction), or promoted from held
    expect(ids(live.after(70, 72, 100, none))).toBeNull();
  });
});

describe("the store's cache of committed rows", () => {
  it("takes a row in once its transaction commits, and leaves a row inserted outside one to the table", () => {
    boxes.open().close(); // the schema
    const db = new Database(boxes.path);
    try {
      const store = new OutboxStore(db);
      const at = store.lastInsertedId;
      const inserted = store.atomically(() => store.insert(LANE.telemetry, "C1", 1, 0, "{}", null));
      expect(ids(store.liveAfter(at, store.visibleId, 10, none))).toEqual([inserted]);
      // No COMMIT of the store's will come for this one: the table must answer for it.
      const loose = store.insert(LANE.telemetry, "C1", 2, 0, "{}", null);
      expect(store.liveAfter(inserted, store.visibleId, 10, none)).toBeNull();
      expect(loose).toBeGreaterThan(inserted);
    } finally {
      db.close();
    }
  });
});

/** Seeded uniform [0, 1): the same run every time (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  /** Every row handed out, in order: id, container, seq and payload. */
  readonly taken: string[];
  readonly answers: { memory: number; table: number };
  readonly undelivered: number;
  readonly evictedTelemetry: number;
  readonly droppedByException: number;
  readonly delivered: number;
}

/**
 * A seeded run of a publisher and a capture over one outbox: commits (some readings held, some
 * of an untrusted clock epoch), takes, acknowledgements, releases, reconnects, clock corrections
 * and, with a small budget, evictions. Each row handed out is checked against the table as
 * another connection reads it. `tableOnly`: the live lane always reads the table, as before.
 */
async function seededRun(
  path: string,
  options: Partial<OutboxOptions>,
  tableOnly: boolean,
): Promise<Run> {
  let clock = 1000;
  const box = boxes.open({ ...options, now: () => clock });
  const table = new Database(path, { readonly: true });
  const inTable = table.prepare<[number], RowRecord>("SELECT * FROM outbox WHERE id = ?");
  const byAge = table.prepare<[], { id: number; captured_at: number }>(
    "SELECT id, captured_at FROM outbox ORDER BY id",
  );
  const acceptedIds = new Set<number>();
  // The outbox keeps its answer until its rows change: it must be what the table says then, less
  // the rows acknowledged and not yet deleted.
  const checkOldest = () =>
    expect(box.oldestCapturedAt()).toBe(
      byAge.all().find((r) => !acceptedIds.has(r.id))?.captured_at ?? null,
    );
  const next = random(26);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const inflight = new Map<number, OutboxRow>();
  const delivered = new Set<string>();
  const captured = new Set<string>();
  const heldSeqs: [string, number][] = [];
  const taken: string[] = [];
  // Counts which answered each take; tableOnly: memory never does, as before the cache.
  const spy = vi.spyOn(LiveRows.prototype, "after");
  if (tableOnly) spy.mockReturnValue(null);
  let epoch = 0;
  let openEpoch: number | null = null;
  const take = (rows: readonly OutboxRow[]) => {
    for (const r of rows) {
      expect(inflight.has(r.id), `row ${r.id} taken twice`).toBe(false);
      const stored = inTable.get(r.id);
      expect(stored, `row ${r.id} handed out but not in the table`).toBeDefined();
      expect([r.containerId, r.seq, r.capturedAt, r.bytes, r.payload]).toEqual([
        stored?.container_id,
        stored?.seq,
        stored?.captured_at,
        stored?.bytes,
        stored?.payload,
      ]);
      inflight.set(r.id, r);
      taken.push(`${r.id} ${r.containerId}:${r.seq} ${r.payload}`);
    }
  };
  try {
    box.beginSession();
    for (let step = 0; step < 4000; step++) {
      clock += 1000;
      checkOldest();
      const op = next();
      if (op < 0.4) {
        const containers = ["C1", "C2", "C3"].filter(() => next() < 0.7);
        const readings = box.nextSeqs(
          containers.map((c) => makeReading(c, Date.UTC(2026, 11, 6) + step * 1000)),
        );
        const held = readings.map(() => next() < 0.1);
        if (next() < 0.05) openEpoch = ++epoch;
        const promote = new Map<string, number[]>();
        const drop = new Map<string, number[]>();
        for (const [c, seq] of heldSeqs.splice(0, Math.floor(next() * 3))) {
          const fate = next() < 0.5 ? promote : drop;
          fate.set(c, [...(fate.get(c) ?? []), seq]);
        }
        box.commit({ readings, held, promote, drop, clockEpoch: openEpoch });
        readings.forEach((r, i) => {
          captured.add(`${r.container_id}:${r.seq}`);
          if (held[i]) heldSeqs.push([r.container_id, r.seq]);
        });
      } else if (op < 0.6) {
        take(box.takeLive(1 + Math.floor(next() * 4)));
      } else if (op < 0.68) {
        take(box.takeBackfill(4096, 1 + Math.floor(next() * 20)));
      } else if (op < 0.85 && inflight.size > 0) {
        const accepted = [...inflight.values()].filter(() => next() < 0.7);
        box.accept(accepted.map((r) => r.id));
        for (const r of accepted) acceptedIds.add(r.id);
        for (const r of accepted) {
          inflight.delete(r.id);
          delivered.add(`${r.containerId}:${r.seq}`);
        }
      } else if (op < 0.93 && inflight.size > 0) {
        const released = [pick([...inflight.values()])];
        box.release(released);
        for (const r of released) inflight.delete(r.id);
      } else if (op < 0.95) {
        box.beginSession(); // a reconnect: what was in flight is pending again
        inflight.clear();
      } else if (op < 0.97) {
        await box.synced(); // with a background sync, rows become visible here
      } else if (openEpoch !== null) {
        box.correctClock(openEpoch, 1500);
        openEpoch = null;
      }
    }
    // Everything still held is published after all (a restart would promote it too).
    const promote = new Map<string, number[]>();
    for (const [c, seq] of heldSeqs) promote.set(c, [...(promote.get(c) ?? []), seq]);
    box.commit({ promote });
    await box.synced();
    box.beginSession();
    inflight.clear();
    for (;;) {
      const rows = [...box.takeLive(50), ...box.takeBackfill(1 << 20, 50)];
      if (rows.length === 0) break;
      take(rows);
      box.accept(rows.map((r) => r.id));
      for (const r of rows) acceptedIds.add(r.id);
      for (const r of rows) delivered.add(`${r.containerId}:${r.seq}`);
    }
    expect(box.pending()).toEqual({ alerts: 0, telemetry: 0 });
    checkOldest();
    expect(box.oldestCapturedAt()).toBeNull();
    const { evictedTelemetry, droppedByException } = box.stats();
    const answered = spy.mock.results.map((r) => (r.value === null ? "table" : "memory"));
    return {
      taken,
      answers: {
        memory: answered.filter((a) => a === "memory").length,
        table: answered.filter((a) => a === "table").length,
      },
      undelivered: [...captured].filter((key) => !delivered.has(key)).length,
      evictedTelemetry,
      droppedByException,
      delivered: delivered.size,
    };
  } finally {
    spy.mockRestore();
    table.close();
    boxes.closeAll();
  }
}

describe("the live lane served from memory", () => {
  it.each([
    ["each commit synced as it is made", false],
    ["the WAL synced in the background", true],
  ])(
    "hands out the rows the table would, in the same order, each as the table holds it: %s",
    async (_, backgroundSync) => {
      const options = { maxBytes: 256 * 1024, backgroundSync };
      const memory = await seededRun(boxes.path, options, false);
      rmSync(dirname(boxes.path), { recursive: true });
      const table = await seededRun(boxes.path, options, true);
      // The same rows, in the same order, as when every take read the table, through releases,
      // reconnects, clock corrections, held readings promoted and dropped, and evictions.
      const first = memory.taken.findIndex((t, i) => t !== table.taken[i]);
      expect(
        first,
        `first difference: ${JSON.stringify([memory.taken.slice(first, first + 3), table.taken.slice(first, first + 3)])}`,
      ).toBe(-1);
      expect(memory.taken.length).toBe(table.taken.length);
      // Memory answered most takes; the table where memory could not (a release, a rewrite).
      expect(memory.answers.memory).toBeGreaterThan(30);
      expect(memory.answers.table).toBeGreaterThan(10);
      // Nothing lost that was not dropped by report by exception or evicted by the budget.
      expect(memory.delivered).toBeGreaterThan(1000);
      expect(memory.evictedTelemetry).toBeGreaterThan(0);
      expect(memory.droppedByException).toBeGreaterThan(0);
      expect(memory.undelivered).toBeLessThanOrEqual(
        memory.evictedTelemetry + memory.droppedByException,
      );
    },
  );
});
