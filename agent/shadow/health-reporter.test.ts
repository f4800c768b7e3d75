import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Clock } from "../../core/clock.js";
import { HealthReporter, type HealthClass } from "./health-reporter.js";

/** The reporter's clock, on vitest's fake timers. */
const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };

describe("HealthReporter", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function reporter(state: { class: HealthClass; online: boolean }) {
    const sent: number[] = [];
    const health = new HealthReporter({
      intervalMs: 300_000,
      minGapMs: 10_000,
      checkMs: 1000,
      clock,
      classify: () => state.class,
      report: () => ({ at: Date.now() }),
      send: () => {
        if (!state.online) return false;
        sent.push(Date.now());
        return true;
      },
    });
    return { health, sent };
  }

  const calm: HealthClass = { backlog: false, clock: "synced", failing: [], storage: false };

  it("reports at start, then every interval while nothing changes", () => {
    const state = { class: calm, online: true };
    const { health, sent } = reporter(state);
    const t0 = Date.now();
    health.start();
    vi.advanceTimersByTime(650_000);
    expect(sent.map((t) => t - t0)).toEqual([0, 300_000, 600_000]);
    health.stop();
  });

  it("reports a change of class at once, but never twice within the gap", () => {
    const state = { class: calm, online: true };
    const { health, sent } = reporter(state);
    const t0 = Date.now();
    health.start();
    vi.advanceTimersByTime(60_000);
    state.class = { ...calm, backlog: true };
    vi.advanceTimersByTime(1000);
    // Flapping: drained and back within a few seconds.
    state.class = calm;
    vi.advanceTimersByTime(2000);
    state.class = { ...calm, failing: ["/dev/ttyUSB0 unit 3"] };
    vi.advanceTimersByTime(20_000);
    expect(sent.map((t) => t - t0)).toEqual([0, 61_000, 71_000]);
    health.stop();
  });

  it("keeps a report owed while offline and sends it when the link is back", () => {
    const state = { class: calm, online: false };
    const { health, sent } = reporter(state);
    const t0 = Date.now();
    health.start();
    vi.advanceTimersByTime(30_000);
    expect(sent).toEqual([]);
    state.online = true;
    health.connected();
    expect(sent.map((t) => t - t0)).toEqual([30_000]);
    health.stop();
  });
});
