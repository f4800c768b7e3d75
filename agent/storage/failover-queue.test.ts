import { describe, expect, it } from "vitest";

import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import type { Outbox } from "../outbox/outbox.js";
import { LANE } from "../outbox/publish-queue.js";
import { FailoverQueue } from "./failover-queue.js";
import { MemoryLane } from "./memory-lane.js";
import { RowRouting } from "./row-routing.js";

const boxes = useOutboxes();
const alert = (containerId: string) => ({
  containerId,
  payload: { schema: "reefer.alert.v1", alert_id: `${containerId}:a`, container_id: containerId },
});

/** A queue over memory and whichever outbox `disk.open` names (null: the storage failed). */
function queueOver(open: Outbox | null) {
  const memory = new MemoryLane(100);
  const disk = { open };
  const gauge: number[] = [];
  const queue = new FailoverQueue(
    memory,
    new RowRouting(),
    (work) => (disk.open ? work(disk.open) : undefined),
    (rows) => gauge.push(rows),
  );
  return { memory, disk, queue, gauge };
}

describe("the publisher's queue over memory and the disk", () => {
  it("takes what memory holds first, alerts before readings, then the disk's (its backlog last)", () => {
    const outbox = boxes.open();
    outbox.capture([makeReading("C1")], [alert("C1")]);
    const { memory, queue } = queueOver(outbox);
    memory.hold([{ ...makeReading("C2"), seq: 1 }], [alert("C2")], Date.now(), null);
    queue.beginSession();
    expect(queue.pending()).toEqual({ alerts: 2, telemetry: 2 });
    const order = [
      ...queue.takeAlerts(10),
      ...queue.takeAlerts(10),
      ...queue.takeLive(10),
      ...queue.takeLive(10),
      ...queue.takeBackfill(1e6, 10),
    ].map((row) => [row.id < 0 ? "memory" : "disk", row.lane, row.containerId]);
    // The disk's reading was captured before the session: backfill now.
    expect(order).toEqual([
      ["memory", LANE.alert, "C2"],
      ["disk", LANE.alert, "C1"],
      ["memory", LANE.telemetry, "C2"],
      ["disk", LANE.telemetry, "C1"],
    ]);
  });

  it("ignores acknowledgements of a file that failed since, and sends its rows again from the new one", () => {
    const first = boxes.open();
    first.capture([makeReading("C1")]);
    const { disk, queue, gauge } = queueOver(first);
    queue.beginSession();
    const taken = queue.takeBackfill(1e6, 10);
    expect(taken).toHaveLength(1);
    // The storage failed and the same file opened again: the session goes on in it.
    first.close();
    const again = boxes.open();
    disk.open = again;
    queue.adopted(again);
    queue.accept(taken.map((row) => row.id)); // late, for the failed handle: ignored
    expect(again.pending().telemetry).toBe(1);
    const resent = [...queue.takeLive(10), ...queue.takeBackfill(1e6, 10)];
    expect(resent.map((row) => row.seq)).toEqual([1]);
    queue.accept(resent.map((row) => row.id));
    expect(queue.pending()).toEqual({ alerts: 0, telemetry: 0 });
    expect(gauge.at(-1)).toBe(0);
  });

  it("goes on from memory alone while no file is open", () => {
    const { memory, queue } = queueOver(null);
    memory.hold([{ ...makeReading("C1"), seq: 7 }], [], Date.now(), null);
    queue.beginSession();
    const [row] = queue.takeLive(10);
    expect(row?.seq).toBe(7);
    queue.release(row ? [row] : []);
    expect(queue.takeLive(10).map((r) => r.seq)).toEqual([7]);
    queue.reject([row?.id ?? 0], "refused");
    expect(queue.pending()).toEqual({ alerts: 0, telemetry: 0 });
  });
});
