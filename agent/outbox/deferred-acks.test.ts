import { describe, expect, it, vi } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";

const boxes = useOutboxes({ backgroundSync: true });
const rows = (box: ReturnType<typeof boxes.open>) =>
  box.query<{ n: number }>("SELECT COUNT(*) AS n FROM outbox")[0]?.n;

/** The agent's outbox deletes acknowledged rows in the next capture's transaction. */
describe("acknowledgements carried by the next capture", () => {
  it("takes the rows out of pending at once, never hands them out again, and deletes them with the next commit", async () => {
    const box = boxes.open();
    box.beginSession();
    box.capture([makeReading("C1"), makeReading("C2")]);
    await box.synced();
    const live = box.takeLive(10);
    box.accept(live.map((r) => r.id));
    expect(box.pending()).toEqual({ alerts: 0, telemetry: 0 });
    expect(box.takeLive(10)).toEqual([]);
    expect(rows(box)).toBe(2); // still stored: no transaction of their own
    box.capture([makeReading("C1")]);
    expect(rows(box)).toBe(1); // gone with the capture, which stored the new one
    expect(box.pending()).toEqual({ alerts: 0, telemetry: 1 });
  });

  it("deletes them on their own when no capture comes within two seconds", async () => {
    const box = boxes.open();
    box.beginSession();
    box.capture([makeReading("C1")], [{ containerId: "C1", payload: { a: 1 } }]);
    await box.synced();
    vi.useFakeTimers();
    try {
      box.accept([...box.takeAlerts(10), ...box.takeLive(10)].map((r) => r.id));
      expect(box.pending()).toEqual({ alerts: 0, telemetry: 0 });
      vi.advanceTimersByTime(1999);
      expect(rows(box)).toBe(2);
      vi.advanceTimersByTime(1);
      expect(rows(box)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("deletes them before a new session, so a reconnect does not send them again", async () => {
    const box = boxes.open();
    box.beginSession();
    box.capture([makeReading("C1"), makeReading("C1")]);
    await box.synced();
    const [first] = box.takeLive(10);
    box.accept([first?.id ?? 0]);
    box.beginSession();
    expect(rows(box)).toBe(1);
    expect(box.takeBackfill(1 << 20, 100).map((r) => r.seq)).toEqual([2]);
  });

  it("deletes them at close", async () => {
    const box = boxes.open();
    box.beginSession();
    box.capture([makeReading("C1")]);
    await box.synced();
    box.accept(box.takeLive(10).map((r) => r.id));
    box.close();
    const again = boxes.open();
    expect(rows(again)).toBe(0);
  });
});
