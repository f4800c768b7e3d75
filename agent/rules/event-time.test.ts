import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventTime } from "./event-time.js";

describe("eventTime", () => {
  it("reads every toISOString output as Date.parse does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), (ms) => {
        expect(eventTime(new Date(ms).toISOString())).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it("falls back to Date.parse for other forms", () => {
    expect(eventTime("2026-11-25T12:00:00Z")).toBe(Date.UTC(2026, 10, 25, 12));
    expect(eventTime("2026-11-25T12:00:00.000+01:00")).toBe(Date.UTC(2026, 10, 25, 11));
    expect(eventTime("2026-11-25T12:0x:00.000Z")).toBeNaN();
  });
});
