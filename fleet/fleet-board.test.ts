import { describe, expect, it } from "vitest";
import type { LiveEvent } from "../agent/dashboard/dashboard-routes.js";
import { TILE, type FleetSnapshotWire, type FleetUpdateWire } from "../dashboard/wire.js";
import { FleetBoard, type BoardWorker } from "./fleet-board.js";
import type { ToWorker } from "./protocol.js";

/** A worker's IPC channel as the board sees it: what it was sent. */
function channel(ids: string[]): BoardWorker & { sent: ToWorker[] } {
  const sent: ToWorker[] = [];
  return { sent, holds: (id) => ids.includes(id), send: (m) => sent.push(m) };
}

describe("FleetBoard", () => {
  const totals = { connected: 2, captured: 0, acknowledged: 0, backlog: 0 };

  it("starts a page with every tile, then sends each second only the tiles that changed", () => {
    const board = new FleetBoard(["g-0", "g-1"], ["C1", "C2"], () => []);
    const events: LiveEvent[] = [];
    const unsubscribe = board.fleet().subscribe((e) => events.push(e));
    const snapshot = events[0]?.data as FleetSnapshotWire;
    expect(snapshot.flags).toEqual(Array(4).fill(TILE.noData | TILE.offline));
    expect(snapshot.containerSuffixes).toEqual(["C1", "C2"]);

    board.onMessage({
      type: "tiles",
      tiles: [1, 3],
      flags: [0, TILE.alarm],
      temperatures: [41, 95],
    });
    board.tick({ ...totals, captured: 10, acknowledged: 8 }, 1000);
    board.onMessage({ type: "tiles", tiles: [3], flags: [TILE.alarm], temperatures: [97] });
    board.tick({ ...totals, captured: 30, acknowledged: 28 }, 3000);
    board.tick({ ...totals, captured: 30, acknowledged: 28 }, 4000);

    const updates = events.slice(1).map((e) => e.data as FleetUpdateWire);
    expect(updates[0]).toMatchObject({
      tiles: [1, 3],
      flags: [0, TILE.alarm],
      temperatures: [41, 95],
    });
    expect(updates[1]).toMatchObject({ tiles: [3], temperatures: [97] });
    expect(updates[1]?.summary).toMatchObject({ capturedPerSecond: 10, acknowledgedPerSecond: 10 });
    expect(updates[2]?.tiles).toEqual([]);
    // A page that opens later starts from the tiles as they are now.
    const later: LiveEvent[] = [];
    board.fleet().subscribe((e) => later.push(e));
    expect((later[0]?.data as FleetSnapshotWire).temperatures).toEqual([null, 41, null, 97]);
    unsubscribe();
  });

  it("relays a gateway's feed from the worker that runs it, and stops it when the page leaves", () => {
    const first = channel(["g-0"]);
    const second = channel(["g-1"]);
    const board = new FleetBoard(["g-0", "g-1"], ["C1"], () => [first, second]);
    expect(board.gateway("g-9")).toBeNull();
    const events: LiveEvent[] = [];
    const unsubscribe = board.gateway("g-1")?.subscribe((e) => events.push(e));
    expect(first.sent).toEqual([]);
    expect(second.sent).toEqual([{ type: "watch", gateway: "g-1", subscription: 1 }]);
    board.onMessage({
      type: "feed",
      subscription: 1,
      event: { event: "snapshot", data: { x: 1 } },
    });
    board.onMessage({ type: "feed", subscription: 2, event: { event: "status", data: {} } });
    expect(events).toEqual([{ event: "snapshot", data: { x: 1 } }]);
    unsubscribe?.();
    expect(second.sent.at(-1)).toEqual({ type: "unwatch", subscription: 1 });
    board.onMessage({ type: "feed", subscription: 1, event: { event: "status", data: {} } });
    expect(events).toHaveLength(1);
  });
});
