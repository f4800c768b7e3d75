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
    const ramp = new Ramp({ count: 100, perSecond: 40, startOne: (i) => started.push(i) });
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
    const ramp = new Ramp({
      count: 1000,
      perSecond: 100,
      startOne: (i) => started.push(i),
      now: () => now,
    });
    ramp.start();
    now = 3000; // the event loop was busy for three seconds
    vi.advanceTimersByTime(50);
    expect(started.length).toBe(301);
  });

  it("holds back while too many started ones are still connecting, then goes on", () => {
    const started: number[] = [];
    let connected = 0;
    const ramp = new Ramp({
      count: 100,
      perSecond: 1000,
      maxPending: 10,
      pending: () => started.length - connected,
      startOne: (i) => started.push(i),
    });
    ramp.start();
    vi.advanceTimersByTime(1000);
    expect(started.length).toBe(10);
    connected = 4;
    vi.advanceTimersByTime(50);
    expect(started.length).toBe(14);
    connected = 100;
    vi.advanceTimersByTime(200);
    expect(started.length).toBe(100);
  });

  it("can be stopped part-way", () => {
    const started: number[] = [];
    const ramp = new Ramp({ count: 100, perSecond: 10, startOne: (i) => started.push(i) });
    ramp.start();
    vi.advanceTimersByTime(500);
    ramp.stop();
    vi.advanceTimersByTime(10_000);
    expect(started.length).toBe(6);
  });
});
