import { describe, expect, it } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { waitFor } from "../../test/support/wait-for.js";
import { WalSync } from "./wal-sync.js";

const boxes = useOutboxes({ backgroundSync: true });

describe("an outbox that syncs its WAL in the background", () => {
  it("commits at synchronous=NORMAL and shows rows to the publisher only once synced", async () => {
    const box = boxes.open();
    expect(box.query<{ synchronous: number }>("PRAGMA synchronous")[0]?.synchronous).toBe(1);
    box.beginSession();
    box.capture([makeReading("C1")], [{ containerId: "C1", payload: { alert: 1 } }]);
    expect(box.takeAlerts(10)).toEqual([]);
    expect(box.takeLive(10)).toEqual([]);
    await box.synced();
    expect(box.takeAlerts(10)).toHaveLength(1);
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([1]);
  });

  it("runs afterDurable callbacks in commit order, once their commit is synced", async () => {
    const box = boxes.open();
    const order: string[] = [];
    box.capture([makeReading("C1")]);
    box.afterDurable(() => order.push("first"));
    box.capture([makeReading("C1")]);
    box.afterDurable(() => order.push("second"));
    expect(order).toEqual([]);
    await box.synced();
    expect(order).toEqual(["first", "second"]);
    // Nothing waits: a callback runs at once.
    box.afterDurable(() => order.push("now"));
    expect(order).toEqual(["first", "second", "now"]);
  });

  it("syncs acknowledgements' deletes by themselves when asked (write-behind), coalesced", async () => {
    const box = boxes.open({ syncAcknowledgements: true });
    box.capture([makeReading("C1"), makeReading("C1")]);
    await box.synced();
    const before = box.backgroundSyncs;
    box.beginSession();
    const rows = box.takeBackfill(1e6, 10);
    expect(rows).toHaveLength(2);
    box.accept([rows[0]?.id ?? 0]);
    box.accept([rows[1]?.id ?? 0]); // while the first sync runs: one more after it, not two
    await waitFor("the deletes' syncs", () => box.backgroundSyncs >= before + 2, 10_000);
    await box.synced();
    expect(box.backgroundSyncs).toBe(before + 2);
    // Without it, deletes wait for the next capture's sync.
    const plain = boxes.open({ path: `${boxes.path}.plain` });
    plain.capture([makeReading("C1")]);
    await plain.synced();
    const plainBefore = plain.backgroundSyncs;
    plain.beginSession();
    plain.accept(plain.takeBackfill(1e6, 10).map((r) => r.id));
    expect(plain.backgroundSyncs).toBe(plainBefore);
  });

  it("shares one sync among the commits made while another runs (a group commit)", async () => {
    const box = boxes.open();
    for (let i = 0; i < 50; i++) box.capture([makeReading("C1")]);
    await box.synced();
    // One sync for the first commit, one for the 49 that landed while it ran.
    expect(box.backgroundSyncs).toBeLessThanOrEqual(2);
    box.beginSession();
    expect(box.takeBackfill(1e6, 100)).toHaveLength(50);
  });

  it("publishes as live the rows of a session begun before they were synced", async () => {
    const box = boxes.open();
    box.capture([makeReading("C1")]);
    box.beginSession(); // the row is not durable yet: not backfill, or it would be skipped
    expect(box.takeBackfill(1e6, 10)).toEqual([]);
    await box.synced();
    expect(box.takeLive(10).map((r) => r.seq)).toEqual([1]);
  });

  it("loses nothing when closed with a sync pending, and runs what waited", () => {
    let box = boxes.open();
    box.capture([makeReading("C1"), makeReading("C2")]);
    let ran = false;
    box.afterDurable(() => {
      ran = true;
    });
    box.close();
    expect(ran).toBe(true);
    box = boxes.open();
    box.beginSession();
    expect(box.takeBackfill(1e6, 10).map((r) => r.containerId)).toEqual(["C1"]);
    expect(box.stats().telemetry).toBe(2);
  });

  it("keeps synchronous FULL inside each commit without the option", () => {
    const box = boxes.open({ backgroundSync: false });
    expect(box.query<{ synchronous: number }>("PRAGMA synchronous")[0]?.synchronous).toBe(2);
    box.beginSession();
    box.capture([makeReading("C1")]);
    expect(box.takeLive(10)).toHaveLength(1);
    expect(box.backgroundSyncs).toBe(0);
  });
});

describe("WalSync", () => {
  it("reports a sync the kernel refuses, and lets the rows go out anyway", async () => {
    // /dev/null cannot be fsynced (EINVAL): a real failing sync, no mock.
    const failures: string[] = [];
    const durable: number[] = [];
    const timed: number[] = [];
    const sync = new WalSync("/dev/null", 3, {
      durable: (id) => durable.push(id),
      failed: (error) => failures.push((error as NodeJS.ErrnoException).code ?? "?"),
      timed: (seconds) => timed.push(seconds),
    });
    expect(failures).toEqual(["EINVAL"]); // the first, synchronous sync at open
    sync.request(7);
    await new Promise<void>((resolve) => {
      const poll = () => (durable.length > 0 ? resolve() : setImmediate(poll));
      poll();
    });
    expect(failures).toEqual(["EINVAL", "EINVAL"]);
    expect(durable).toEqual([7]);
    // Each sync timed, the failed one too (it took the disk's time all the same).
    expect(timed).toHaveLength(1);
    expect(timed[0]).toBeGreaterThanOrEqual(0);
    expect(sync.durable).toBe(7);
    sync.close();
  });
});
