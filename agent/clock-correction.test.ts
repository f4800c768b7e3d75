import { describe, expect, it } from "vitest";
import type { Clock } from "../core/clock.js";
import { Metrics } from "../core/metrics.js";
import { captureLogs } from "../test/support/logs.js";
import { makeReading } from "../test/support/readings.js";
import { ClockCorrection, type CorrectableStore } from "./clock-correction.js";
import { ClockGuard } from "./clock-guard.js";
import type { Tick } from "./tick.js";

const REAL = Date.UTC(2026, 10, 25, 12);

/** A gateway booted in 1970 (no RTC): the wall clock is set later, as NTP would. */
function bootedIn1970() {
  let monotonic = 0;
  let offset = 0;
  const clock: Clock = { now: () => monotonic + offset, monotonic: () => monotonic };
  return {
    clock,
    advance: (ms: number) => (monotonic += ms),
    setWall: (ms: number) => (offset = ms - monotonic),
  };
}

/** The outbox's correcting face: records each correction asked of it. */
class Corrections implements CorrectableStore {
  readonly asked: { epoch: number; deltaMs: number }[] = [];
  correctClock(epoch: number, deltaMs: number): number {
    this.asked.push({ epoch, deltaMs });
    return 7;
  }
}

/** A correction whose store, log and metrics no test reads. */
function quietCorrection(clock: Clock): ClockCorrection {
  return new ClockCorrection(
    new ClockGuard(clock),
    new Corrections(),
    captureLogs("fatal").logger,
    new Metrics(),
  );
}

function tickAt(t: number, epoch: number | null): Tick {
  return {
    samples: [{ reading: makeReading("C1", t, { clock: "unsynced" }), t }],
    failures: [],
    clock: {
      state: epoch === null ? "synced" : "unsynced",
      epoch,
      offset: 0,
      corrections: [],
    },
  };
}

describe("ClockCorrection", () => {
  it("corrects the buffered readings of an untrusted epoch the moment the clock is trusted, once", () => {
    const t = bootedIn1970();
    const store = new Corrections();
    const metrics = new Metrics();
    const logs = captureLogs("debug");
    const correction = new ClockCorrection(new ClockGuard(t.clock), store, logs.logger, metrics);
    expect(correction.observe().state).toBe("unsynced");
    t.advance(60_000);
    correction.observe();
    expect(store.asked).toEqual([]);
    t.setWall(REAL);
    correction.observe();
    expect(store.asked).toEqual([{ epoch: 1, deltaMs: REAL - 60_000 }]);
    expect(metrics.get("clock_corrected")).toBe(7);
    expect(logs.lines.some((l) => l.msg.includes("corrected the times"))).toBe(true);
    t.advance(1000);
    correction.observe();
    expect(store.asked).toHaveLength(1);
  });

  it("settles a tick read before the correction and committed after it: moved by the step, synced, under no epoch", () => {
    const t = bootedIn1970();
    const correction = quietCorrection(t.clock);
    correction.observe();
    t.advance(5000);
    const late = tickAt(5000, 1); // read in epoch 1, before NTP
    t.setWall(REAL);
    correction.observe();
    const { samples, epoch } = correction.settle(late);
    expect(epoch).toBeNull();
    expect(samples[0]?.t).toBe(REAL);
    expect(samples[0]?.reading.measurement_time).toBe(new Date(REAL).toISOString());
    expect(samples[0]?.reading.clock).toBe("synced");
  });

  it("leaves a tick of an epoch not yet corrected, and a synced tick, as they are", () => {
    const t = bootedIn1970();
    const correction = quietCorrection(t.clock);
    correction.observe();
    const untrusted = tickAt(1000, 1);
    expect(correction.settle(untrusted)).toEqual({ samples: untrusted.samples, epoch: 1 });
    const synced = tickAt(REAL, null);
    expect(correction.settle(synced)).toEqual({ samples: synced.samples, epoch: null });
  });
});
