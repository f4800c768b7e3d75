import { afterEach, describe, expect, it } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import type { UnsequencedReading } from "../../core/record.js";
import { LANE, type PublishQueue } from "./publish-queue.js";

/** A queue under test, and how to put rows into it as capture would. */
export interface QueueUnderTest {
  readonly queue: PublishQueue;
  capture(readings: readonly UnsequencedReading[], alerts?: readonly object[]): void;
  close(): void;
}

/**
 * The PublishQueue contract (as Telegraf runs one suite over every buffer): every
 * implementation the publisher may be given passes it.
 */
export function publishQueueContract(name: string, make: () => QueueUnderTest): void {
  describe(`PublishQueue contract: ${name}`, () => {
    const open: QueueUnderTest[] = [];
    const fresh = () => {
      const q = make();
      open.push(q);
      return q;
    };
    afterEach(() => {
      for (const q of open.splice(0)) q.close();
    });
    const alert = (containerId: string) => ({ containerId, alert_type: "x" });

    it("hands out alerts first, then live readings, then the backlog of earlier sessions", () => {
      const q = fresh();
      q.capture([makeReading("C1"), makeReading("C1")]);
      q.queue.beginSession();
      q.capture([makeReading("C1")], [alert("C1")]);
      expect(q.queue.takeAlerts(10).map((r) => r.lane)).toEqual([LANE.alert]);
      expect(q.queue.takeLive(10).map((r) => r.seq)).toEqual([3]);
      expect(q.queue.takeBackfill(1e6, 100).map((r) => r.seq)).toEqual([1, 2]);
      expect(q.queue.takeBackfill(1e6, 100)).toEqual([]);
    });

    it("packs backfill by bytes and rows, in seq order, containers taking turns", () => {
      const q = fresh();
      q.capture([makeReading("A"), makeReading("B"), makeReading("A"), makeReading("A")]);
      q.queue.beginSession();
      const first = q.queue.takeBackfill(1e6, 2);
      expect(first.map((r) => [r.containerId, r.seq])).toEqual([
        ["A", 1],
        ["A", 2],
      ]);
      expect(q.queue.takeBackfill(1e6, 2).map((r) => r.containerId)).toEqual(["B"]);
      // One row always fits, however small the byte limit.
      expect(q.queue.takeBackfill(1, 10).map((r) => r.seq)).toEqual([3]);
    });

    it("never hands out a row twice while it is in flight; a release hands it out again", () => {
      const q = fresh();
      q.queue.beginSession();
      q.capture([makeReading("C1"), makeReading("C1")]);
      const taken = q.queue.takeLive(10);
      expect(taken).toHaveLength(2);
      expect(q.queue.takeLive(10)).toEqual([]);
      q.queue.release(taken.slice(1));
      expect(q.queue.takeLive(10).map((r) => r.seq)).toEqual([2]);
    });

    it("removes only what was accepted or rejected; a new session hands out the rest again", () => {
      const q = fresh();
      q.queue.beginSession();
      q.capture([makeReading("C1"), makeReading("C1"), makeReading("C1")], [alert("C1")]);
      const [a] = q.queue.takeAlerts(10);
      const live = q.queue.takeLive(10);
      expect(q.queue.pending()).toEqual({ alerts: 1, telemetry: 3 });
      q.queue.accept(live.slice(0, 1).map((r) => r.id));
      q.queue.reject(
        live.slice(1, 2).map((r) => r.id),
        "not authorized",
      );
      expect(q.queue.pending()).toEqual({ alerts: 1, telemetry: 1 });
      // The link dropped: what was in flight and not settled is pending again, as backfill.
      q.queue.beginSession();
      expect(q.queue.takeAlerts(10).map((r) => r.id)).toEqual([a?.id]);
      expect(q.queue.takeBackfill(1e6, 10).map((r) => r.seq)).toEqual([3]);
    });

    it("carries what a row needs to be sent: its container, seq and payload", () => {
      const q = fresh();
      q.queue.beginSession();
      q.capture([makeReading("C9", 1_000, { temperature: 7.5 })]);
      const [row] = q.queue.takeLive(1);
      expect(row).toMatchObject({ containerId: "C9", seq: 1, lane: LANE.telemetry });
      expect(JSON.parse(row?.payload ?? "{}")).toMatchObject({
        container_id: "C9",
        seq: 1,
        temperature: 7.5,
      });
      expect(row?.bytes).toBe(Buffer.byteLength(row?.payload ?? ""));
    });
  });
}
