import { describe, expect, it } from "vitest";
import { CLOCK_FLOOR_MS, type Clock } from "../core/clock.js";
import { ClockGuard } from "./clock-guard.js";

/** A clock whose wall time can be set like NTP or a bad RTC would. */
function testClock(wall: number) {
  let monotonic = 0;
  let offset = wall;
  const clock: Clock = { now: () => monotonic + offset, monotonic: () => monotonic };
  return {
    clock,
    advance: (ms: number) => (monotonic += ms),
    setWall: (ms: number) => (offset = ms - monotonic),
  };
}

const REAL = Date.UTC(2026, 10, 25, 12);

describe("ClockGuard", () => {
  it("distrusts a 1970 clock and, when NTP steps it, moves those readings by the step", () => {
    const t = testClock(0); // booted at the epoch
    const guard = new ClockGuard(t.clock);
    expect(guard.observe()).toEqual({ state: "unsynced", epoch: 1, offset: 0, corrections: [] });
    t.advance(60_000);
    expect(guard.observe().epoch).toBe(1);
    t.setWall(REAL); // NTP
    const synced = guard.observe();
    expect(synced.state).toBe("synced");
    // A reading taken at monotonic 60 s, stamped 1970-01-01T00:01:00, belongs at REAL - 0.
    expect(synced.corrections).toEqual([{ epoch: 1, deltaMs: REAL - 60_000 }]);
    expect(new Date(60_000 + (synced.corrections[0]?.deltaMs ?? 0)).getTime()).toBe(REAL);
    t.advance(1000);
    expect(guard.observe()).toMatchObject({ state: "synced", epoch: null, corrections: [] });
  });

  it("distrusts a plausible but stale fake-hwclock time until the system says it is synchronized", () => {
    const stale = REAL - 3 * 86_400_000; // three days behind, but after the build floor
    expect(stale).toBeGreaterThan(CLOCK_FLOOR_MS);
    const t = testClock(stale);
    let ntp = false;
    const guard = new ClockGuard(t.clock, () => ntp);
    expect(guard.observe().state).toBe("unsynced");
    t.advance(5000);
    t.setWall(REAL);
    ntp = true;
    const synced = guard.observe();
    expect(synced.corrections).toEqual([{ epoch: 1, deltaMs: REAL - 5000 - stale }]);
  });

  it("keeps separate epochs when the clock steps again while still untrusted", () => {
    const t = testClock(0);
    const guard = new ClockGuard(t.clock);
    guard.observe();
    t.advance(1000);
    t.setWall(86_400_000); // a bogus step, still 1970
    expect(guard.observe().epoch).toBe(2);
    t.advance(1000);
    t.setWall(REAL);
    expect(guard.observe().corrections).toEqual([
      { epoch: 1, deltaMs: REAL - 2000 },
      { epoch: 2, deltaMs: REAL - 2000 - (86_400_000 - 1000) },
    ]);
  });

  it("reports a step while trusted, which it cannot correct", () => {
    const t = testClock(REAL);
    const guard = new ClockGuard(t.clock);
    guard.observe();
    t.advance(1000);
    t.setWall(REAL + 60_000);
    expect(guard.observe().corrections).toEqual([]);
    expect(guard.steppedWhileTrusted).toBe(true);
  });
});
