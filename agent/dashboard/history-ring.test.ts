import { describe, expect, it } from "vitest";
import { HistoryRing } from "./history-ring.js";

const point = (t: number, temperature: number | null) => [t, temperature, 4, 20.9, 3, 1.2, 0, 1];

describe("HistoryRing", () => {
  it("keeps the newest `capacity` points, oldest first, a missing value as null", () => {
    const ring = new HistoryRing(3);
    ring.push(point(1000, 5));
    ring.push(point(2000, null));
    expect(ring.columnsSince(0)).toMatchObject({ t: [1000, 2000], temperature: [5, null] });
    ring.push(point(3000, 6));
    ring.push(point(4000, 7));
    ring.push(point(5000, 8));
    expect(ring.size).toBe(3);
    const columns = ring.columnsSince(0);
    expect(columns.t).toEqual([3000, 4000, 5000]);
    expect(columns.temperature).toEqual([6, 7, 8]);
    expect(columns.defrost).toEqual([1, 1, 1]);
  });

  it("returns only the points at or after `since`", () => {
    const ring = new HistoryRing(10);
    for (let t = 1; t <= 6; t++) ring.push(point(t * 1000, t));
    expect(ring.columnsSince(4000).t).toEqual([4000, 5000, 6000]);
    expect(ring.columnsSince(9000).t).toEqual([]);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new HistoryRing(0)).toThrow(/capacity/);
    expect(() => new HistoryRing(2.5)).toThrow(/capacity/);
  });
});
