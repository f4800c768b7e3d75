import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Ramp } from "./ramp.js";

describe("the fleet's ramp", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts at the configured rate, in order, and stops when all are started", () => {
    const started: number[] = [];
    const ramp = new Ramp(100, 40, (i) => started.push(i));
    ramp.start();
    expect(started).toEqual([0]);
    vi.advanceTimersByTime(1000);
    expect(started.length).toBe(41);
    vi.advanceTimersByTime(1500);
    expect(started).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("catches up after a late tick instead of slowing down", () => {
    let now = 0;
    const started: number[] = [];
    const ramp = new Ramp(
      1000,
      100,
      (i) => started.push(i),
      () => now,
    );
    ramp.start();
    now = 3000; // the event loop was busy for three seconds
    vi.advanceTimersByTime(50);
    expect(started.length).toBe(301);
  });

  it("can be stopped part-way", () => {
    const started: number[] = [];
    const ramp = new Ramp(100, 10, (i) => started.push(i));
    ramp.start();
    vi.advanceTimersByTime(500);
    ramp.stop();
    vi.advanceTimersByTime(10_000);
    expect(started.length).toBe(6);
  });
});
