import { describe, expect, it } from "vitest";
import { FleetTiles } from "../../dashboard/fleet-tiles.js";
import { TILE, type FleetSnapshotWire, type FleetUpdateWire } from "../../dashboard/wire.js";

/** Two gateways of three containers: gw-1's C2 alarming, gw-2's C1 offline, gw-2's C3 warm. */
function snapshot(): FleetSnapshotWire {
  return {
    gateways: ["gw-1", "gw-2"],
    containerSuffixes: ["C1", "C2", "C3"],
    flags: [0, TILE.alarm, 0, TILE.offline, 0, 0],
    temperatures: [40, 95, 41, null, 42, 120],
  };
}

/** One second of changes to `tiles`. */
function update(
  tiles: number[],
  flags: number[],
  temperatures: (number | null)[],
): FleetUpdateWire {
  const summary = {
    connected: 2,
    gateways: 2,
    capturedPerSecond: 6,
    acknowledgedPerSecond: 6,
    backlog: 0,
  };
  return { tiles, flags, temperatures, summary };
}

function model(): FleetTiles {
  const tiles = new FleetTiles();
  tiles.load(snapshot());
  return tiles;
}

describe("the fleet view's tile model", () => {
  it("shows every tile in id order, and names each tile's container, states and temperature", () => {
    const tiles = model();
    expect([...tiles.order]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(tiles.idOf(4)).toBe("gw-2-C2");
    expect(tiles.describe(1)).toBe("gw-1-C2: Alarm, 9.5 °C");
    expect(tiles.describe(3)).toBe("gw-2-C1: Offline, — °C");
    expect(tiles.linkOf(5)).toBe("#/gateway/gw-2/gw-2-C3");
  });

  it("filters by state and by search, and sorts worst first or warmest first", () => {
    const tiles = model();
    tiles.filter = TILE.alarm | TILE.offline;
    tiles.layout();
    expect([...tiles.order]).toEqual([1, 3]);
    expect(tiles.slotOf[3]).toBe(1);
    expect(tiles.slotOf[0]).toBe(-1);
    tiles.filter = 0;
    tiles.search = "gw-2";
    tiles.layout();
    expect([...tiles.order]).toEqual([3, 4, 5]);
    tiles.search = "";
    tiles.sort = "state";
    tiles.layout();
    expect([...tiles.order].slice(0, 2)).toEqual([1, 3]);
    tiles.sort = "temperature";
    tiles.layout();
    expect([...tiles.order]).toEqual([5, 1, 4, 2, 0, 3]);
  });

  it("applies a second of changes, and asks for a new layout only when the order may change", () => {
    const tiles = model();
    // Sorted by id, unfiltered: a change of state redraws the tile in place.
    expect(tiles.apply(update([0], [TILE.backlog], [50]))).toBe(false);
    expect(tiles.flags[0]).toBe(TILE.backlog);
    expect(tiles.temperatures[0]).toBe(5);
    tiles.filter = TILE.alarm;
    tiles.layout();
    expect(tiles.apply(update([2], [TILE.alarm], [99]))).toBe(true);
    // A tile outside the fleet is ignored, not a crash.
    expect(tiles.apply(update([99], [TILE.alarm], [1]))).toBe(false);
  });

  it("counts the containers by their worst state and lists those needing attention, worst first", () => {
    const tiles = model();
    expect(tiles.counts().get("alarm")).toBe(1);
    expect(tiles.counts().get("offline")).toBe(1);
    expect(tiles.counts().get("ok")).toBe(4);
    expect(tiles.attention()).toEqual([1, 3]);
  });
});
