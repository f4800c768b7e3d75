import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Clock } from "../../core/clock.js";
import { RateLimiter } from "./rate-limiter.js";

const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Sends `sizes` as fast as the limiter allows, with fake time; returns the ms it took. */
async function drain(limiter: RateLimiter, sizes: number[]): Promise<number> {
  const start = Date.now();
  for (const size of sizes) {
    for (let wait = limiter.take(size); wait > 0; wait = limiter.take(size))
      await vi.advanceTimersByTimeAsync(wait);
  }
  return Date.now() - start;
}

describe("RateLimiter", () => {
  it("holds publishes to the message quota: 1,000 small messages at 100/s take about 9 s", async () => {
    const limiter = new RateLimiter({ messagesPerSecond: 100, bytesPerSecond: 512 * 1024 }, clock);
    const ms = await drain(
      limiter,
      Array.from({ length: 1000 }, () => 600),
    );
    // The first second's 100 go at once (the bucket starts full), then 100 a second.
    expect(ms).toBeGreaterThanOrEqual(9000);
    expect(ms).toBeLessThan(9100);
  });

  it("holds bytes to the byte quota: 100 envelopes of 100 kB at 512 KiB/s take about 100·100000/524288 s", async () => {
    const limiter = new RateLimiter({ messagesPerSecond: 100, bytesPerSecond: 512 * 1024 }, clock);
    const ms = await drain(
      limiter,
      Array.from({ length: 100 }, () => 100_000),
    );
    const bound = ((100 * 100_000 - 512 * 1024) / (512 * 1024)) * 1000;
    expect(ms).toBeGreaterThanOrEqual(bound - 10);
    expect(ms).toBeLessThan(bound + 250);
  });

  it("never exceeds either quota over any one-second span", async () => {
    const limiter = new RateLimiter({ messagesPerSecond: 20, bytesPerSecond: 10_000 }, clock);
    const sent: { at: number; size: number }[] = [];
    for (let i = 0; i < 300; i++) {
      const size = 100 + ((i * 37) % 900);
      for (let wait = limiter.take(size); wait > 0; wait = limiter.take(size))
        await vi.advanceTimersByTimeAsync(wait);
      sent.push({ at: Date.now(), size });
    }
    for (const { at } of sent) {
      const window = sent.filter((s) => s.at >= at && s.at < at + 1000);
      // One second's bucket plus what refills within that second: at most twice the rate.
      expect(window.length).toBeLessThanOrEqual(2 * 20);
      expect(window.reduce((n, s) => n + s.size, 0)).toBeLessThanOrEqual(2 * 10_000);
    }
    // Over the whole run: the rate times the time taken, plus the one bucket it started with.
    const total = sent.reduce((n, s) => n + s.size, 0);
    const seconds = (sent[sent.length - 1]?.at ?? 0) / 1000;
    expect(total).toBeLessThanOrEqual(10_000 * seconds + 10_000);
    expect(sent.length).toBeLessThanOrEqual(20 * seconds + 20);
  });

  it("lets a message bigger than a second's bytes through once the bucket is full", () => {
    const limiter = new RateLimiter({ messagesPerSecond: 100, bytesPerSecond: 1000 }, clock);
    expect(limiter.take(5000)).toBe(0);
    expect(limiter.take(10)).toBeGreaterThan(0);
  });
});
