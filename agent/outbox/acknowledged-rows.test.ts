import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";

import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import type { Outbox } from "./outbox.js";

const boxes = useOutboxes();

/** What another connection sees of the file: only what was committed. */
function committedIds(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare<[], { id: number }>("SELECT id FROM outbox ORDER BY id")
      .all()
      .map((r) => r.id);
  } finally {
    db.close();
  }
}

/** Commits counted by SQLite itself: data_version moves when another connection commits. */
function commitCounter(path: string) {
  const db = new Database(path, { readonly: true });
  const version = () => db.pragma("data_version", { simple: true }) as number;
  let last = version();
  return {
    since(): number {
      const now = version();
      const moved = now === last ? 0 : 1;
      last = now;
      return moved;
    },
    close: () => db.close(),
  };
}

const takeAll = (box: Outbox) => [...box.takeLive(100), ...box.takeBackfill(1e6, 100)];

describe("acknowledged rows, deleted by the next capture's transaction", () => {
  it("an acknowledgement commits nothing of its own; the next capture deletes the row with its insert", () => {
    const box = boxes.open();
    box.beginSession();
    box.capture([makeReading("C1")]);
    const [row] = takeAll(box);
    if (!row) throw new Error("nothing taken");
    const commits = commitCounter(boxes.path);
    try {
      box.accept([row.id]);
      // Gone for the queue and the budget at once, still in the file until the next commit.
      expect(box.pending()).toEqual({ alerts: 0, telemetry: 0 });
      expect(box.stats().telemetry).toBe(0);
      expect(box.oldestCapturedAt()).toBeNull();
      expect(commits.since()).toBe(0);
      expect(committedIds(boxes.path)).toEqual([row.id]);
      box.capture([makeReading("C1")]);
      expect(commits.since()).toBe(1);
      const ids = committedIds(boxes.path);
      expect(ids).not.toContain(row.id);
      expect(ids).toHaveLength(1);
      expect(takeAll(box).map((r) => r.seq)).toEqual([2]);
    } finally {
      commits.close();
    }
  });

  it("never hands an acknowledged row out again, in this session or the next", () => {
    const box = boxes.open();
    box.capture([makeReading("C1"), makeReading("C1")]);
    box.beginSession();
    const taken = takeAll(box);
    expect(taken.map((r) => r.seq)).toEqual([1, 2]);
    box.accept([taken[0]?.id ?? 0]);
    box.release(taken); // the link dropped: the unacknowledged one goes back, the other does not
    expect(takeAll(box).map((r) => r.seq)).toEqual([2]);
    box.beginSession(); // a new connection: deletes first, then everything left is pending again
    expect(committedIds(boxes.path)).toEqual([taken[1]?.id]);
    expect(takeAll(box).map((r) => r.seq)).toEqual([2]);
  });

  it("counts an acknowledged row out of the oldest capture time, and deletes it at close", () => {
    let now = 1_000;
    const box = boxes.open({ now: () => now });
    box.beginSession();
    box.capture([makeReading("C1")]);
    now = 2_000;
    box.capture([makeReading("C1")]);
    const [first] = box.takeLive(1);
    box.accept([first?.id ?? 0]);
    expect(box.oldestCapturedAt()).toBe(2_000);
    box.close();
    expect(committedIds(boxes.path)).toHaveLength(1);
  });

  it("sends again after a crash what was acknowledged but not yet deleted: a duplicate, never a loss", () => {
    const box = boxes.open();
    box.capture([makeReading("C1")]);
    box.beginSession();
    const [row] = takeAll(box);
    box.accept([row?.id ?? 0]);
    // No commit followed: the file still holds the row, as a power cut would leave it.
    const again = new Database(boxes.path, { readonly: true });
    try {
      expect(again.prepare("SELECT seq FROM outbox").all()).toEqual([{ seq: 1 }]);
    } finally {
      again.close();
    }
  });
});
