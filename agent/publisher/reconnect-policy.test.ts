import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Clock } from "../../core/clock.js";
import { Backoff } from "../../core/backoff.js";
import { MIN_CONNECT_INTERVAL_MS, ReconnectPolicy } from "./reconnect-policy.js";

// The policy reads the clock; under fake timers Date.now() is the fake time.
const fakeClock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Backoff", () => {
  it("draws each delay uniformly below an exponentially growing cap, up to the ceiling", () => {
    const caps: number[] = [];
    const top = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000, random: () => 0.999999 });
    for (let i = 0; i < 9; i++) caps.push(top.next());
    expect(caps).toEqual([999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999, 59_999]);
    const bottom = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000, random: () => 0 });
    expect([bottom.next(), bottom.next(), bottom.next()]).toEqual([0, 0, 0]); // full jitter
  });

  it("starts over after reset", () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });
});

describe("ReconnectPolicy", () => {
  const options = {
    initialDelayMs: 1000,
    maxDelayMs: 120_000,
    stableAfterMs: 60_000,
    clock: fakeClock,
  };

  it("never allows two CONNECTs within a second, even when the jitter draws 0", () => {
    const policy = new ReconnectPolicy({ ...options, random: () => 0 });
    policy.connecting();
    vi.advanceTimersByTime(300);
    expect(policy.disconnected("network")).toBe(MIN_CONNECT_INTERVAL_MS - 300);
    vi.advanceTimersByTime(5000);
    policy.connecting();
    expect(policy.disconnected("network")).toBe(MIN_CONNECT_INTERVAL_MS);
  });

  it("keeps backing off when a CONNACK is followed by a quick kick (stolen client id)", async () => {
    const policy = new ReconnectPolicy({ ...options, random: () => 0.999 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      policy.connecting();
      policy.connected();
      vi.advanceTimersByTime(2000); // kicked two seconds after the CONNACK
      const delay = policy.disconnected("network");
      delays.push(delay);
      await vi.advanceTimersByTimeAsync(delay);
    }
    expect(delays).toEqual([999, 1998, 3996, 7992, 15_984, 31_968]);
  });

  it("starts over once a connection stayed up for stableAfterMs", () => {
    const policy = new ReconnectPolicy({ ...options, random: () => 0.999 });
    for (let i = 0; i < 5; i++) {
      policy.connecting();
      vi.advanceTimersByTime(1500);
      policy.disconnected("network");
    }
    policy.connecting();
    policy.connected();
    vi.advanceTimersByTime(60_000);
    expect(policy.disconnected("network")).toBe(999);
  });

  it("retries a credentials failure slowly, between half the ceiling and the ceiling", () => {
    const policy = new ReconnectPolicy({ ...options, random: () => 0 });
    policy.connecting();
    vi.advanceTimersByTime(100);
    expect(policy.disconnected("credentials")).toBe(60_000);
  });

  it("spreads a fleet: 1,000 gateways that lost the broker together do not retry together", () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const delays = Array.from({ length: 1000 }, () => {
      const policy = new ReconnectPolicy({ ...options, random });
      for (let i = 0; i < 4; i++) policy.disconnected("network");
      policy.connecting();
      vi.advanceTimersByTime(0);
      return policy.disconnected("network"); // 5th failure: uniform in [0, 16 s), at least 1 s
    });
    const perSecond = new Map<number, number>();
    for (const delay of delays) {
      const second = Math.floor(delay / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    // Uniform over 16 one-second buckets is ~63 each (the first gets those under a second too).
    expect(perSecond.size).toBe(15);
    expect(Math.max(...perSecond.values())).toBeLessThan(200);
  });
});
