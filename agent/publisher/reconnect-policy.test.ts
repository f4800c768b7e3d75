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

  it("draws every delay from at least the fleet's connect window, and keeps the ceiling for long outages", () => {
    // 10,000 gateways at 500 CONNECTs a second: 20 s at the full rate, a 25 s window at 80 %.
    const fleet = { ...options, fleetSize: 10_000, connectsPerSecond: 500 };
    const top = new ReconnectPolicy({ ...fleet, random: () => 0.999999 });
    expect(top.connectWindowMs).toBe(25_000);
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) delays.push(top.disconnected("network"));
    // The window first, then the doubling once it passes the window, up to the ceiling.
    expect(delays).toEqual([
      24_999, 24_999, 24_999, 24_999, 24_999, 31_999, 63_999, 119_999, 119_999,
    ]);
    expect(new ReconnectPolicy({ ...options, random: () => 0.5 }).connectWindowMs).toBe(0);
  });

  it("gives a CONNECT turned away as busy a fresh moment of the window, not a doubled wait", () => {
    const fleet = { ...options, fleetSize: 10_000, connectsPerSecond: 100 }; // a 125 s window
    const draws = [0.5, 0.1, 0.9, 0.3, 0.7];
    const policy = new ReconnectPolicy({ ...fleet, random: () => draws.shift() ?? 0.5 });
    policy.connecting();
    policy.connected();
    vi.advanceTimersByTime(60_000);
    expect(policy.disconnected("network")).toBe(62_500); // the broker restarted: the wave starts
    const delays = [0, 1, 2, 3].map(() => {
      vi.advanceTimersByTime(5000);
      policy.connecting();
      return policy.disconnected("busy");
    });
    // Drawn from what is left of the wave's window: 120 s, 115 s, 110 s, 105 s.
    expect(delays).toEqual([12_000, 103_500, 33_000, 73_500]);
    expect(policy.failures).toBe(1); // the restart's; busy is not counted against the backoff
    // Past the window, a broker still busy is backed off from, the window still the least span.
    vi.advanceTimersByTime(130_000);
    policy.connecting();
    expect(policy.disconnected("busy")).toBe(62_500);
    expect(policy.failures).toBe(2);
    // Alone (no window), busy is backed off from like any failure: 999, then 1,999.
    const alone = new ReconnectPolicy({ ...options, random: () => 0.999 });
    expect([alone.disconnected("busy"), alone.disconnected("busy")]).toEqual([999, 1998]);
  });

  it.each([500, 100])(
    "brings 10,000 gateways back at %i CONNECTs a second after a broker restart, the throttled ones included",
    (rate) => {
      // The broker throttles (busy) any CONNECT over the rate in a second, and each throttled
      // gateway draws a fresh moment of the window.
      const gateways = 10_000;
      let seed = 7;
      const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      const policies = Array.from(
        { length: gateways },
        () =>
          new ReconnectPolicy({ ...options, fleetSize: gateways, connectsPerSecond: rate, random }),
      );
      vi.advanceTimersByTime(60_000);
      // The connections were stable: the restart drops them all at once, now.
      const next = policies.map((p) => {
        p.connecting();
        p.connected();
        return p.disconnected("network");
      });
      vi.advanceTimersByTime(120_000); // every gateway's last CONNECT is long past
      const accepted = new Map<number, number>();
      let back = 0;
      let lastBack = 0;
      for (let second = 0; back < gateways && second < 1000; second++) {
        for (let g = 0; g < gateways; g++) {
          const at = next[g] ?? Infinity;
          if (at < second * 1000 || at >= (second + 1) * 1000) continue;
          const policy = policies[g] as ReconnectPolicy;
          const taken = accepted.get(second) ?? 0;
          if (taken < rate) {
            accepted.set(second, taken + 1);
            next[g] = Infinity;
            back++;
            lastBack = second + 1;
          } else next[g] = at + Math.max(policy.disconnected("busy"), 1000);
        }
      }
      const peak = Math.max(...accepted.values());
      console.log(`${rate}/s: all ${back} back in ${lastBack} s, peak ${peak} a second`);
      expect(back).toBe(gateways);
      // The bound: back within 1.2 × fleet / rate + 10 s, never over the rate in a second.
      expect(lastBack).toBeLessThanOrEqual(1.2 * (gateways / rate) + 10);
      expect(peak).toBeLessThanOrEqual(rate);
    },
  );
});
