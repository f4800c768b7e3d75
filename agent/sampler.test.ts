import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Driver } from "../drivers/driver.js";
import { DeviceReadError } from "../drivers/read-error.js";
import type { ReadFailure } from "./tick.js";
import { simulatedDriver } from "../drivers/simulated/driver.js";
import type { Clock } from "../core/clock.js";
import { Metrics } from "../core/metrics.js";
import { BUILTIN_PRODUCTS } from "../core/products.js";
import type { UnsequencedReading } from "../core/record.js";
import { Sampler, type SampledContainer } from "./sampler.js";
import { driverContext } from "../test/support/driver-context.js";

const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
const logger = pino({ level: "silent" });
const START = Date.UTC(2026, 10, 25, 12);

/** A controller that never answers, and stops waiting only when the read is aborted. */
function hangingDriver(): Driver & { reads: number; aborts: number } {
  const driver = {
    reads: 0,
    aborts: 0,
    open: () => Promise.resolve(),
    read(signal: AbortSignal) {
      driver.reads++;
      return new Promise<never>((_, reject) => {
        signal.addEventListener("abort", () => {
          driver.aborts++;
          reject(new Error("aborted"));
        });
      });
    },
    close: () => Promise.resolve(),
  };
  return driver;
}

/** A controller that ignores aborts and answers after `ms`. */
function slowDriver(ms: number): Driver & { reads: number } {
  const driver = {
    reads: 0,
    open: () => Promise.resolve(),
    read() {
      driver.reads++;
      return new Promise<Record<string, number>>((resolve) =>
        setTimeout(() => resolve({ temperature: 5 }), ms),
      );
    },
    close: () => Promise.resolve(),
  };
  return driver;
}

function failingDriver(): Driver {
  return {
    open: () => Promise.resolve(),
    read: () => Promise.reject(new Error("CRC error")),
    close: () => Promise.resolve(),
  };
}

function simulated(id: string): Driver {
  const product = BUILTIN_PRODUCTS[0];
  if (!product) throw new Error("no products");
  return simulatedDriver.create(
    simulatedDriver.configSchema.parse({ type: "simulated" }),
    driverContext({ containerId: id, product, clock, logger }),
  );
}

function container(
  id: string,
  driver: Driver,
  intervalMs = 1000,
  timeoutMs = 200,
): SampledContainer {
  return { id, productId: "P01", driver, intervalMs, timeoutMs };
}

let ticks: UnsequencedReading[][];
let failures: ReadFailure[][];
let metrics: Metrics;
let sampler: Sampler | null;

function start(containers: SampledContainer[]): Sampler {
  sampler = new Sampler({
    gatewayId: "gw",
    bootId: "boot",
    containers,
    clock,
    logger,
    metrics,
    onTick: (tick) => {
      ticks.push(tick.samples.map((s) => s.reading));
      failures.push([...tick.failures]);
    },
  });
  sampler.start();
  return sampler;
}

beforeEach(() => {
  vi.useFakeTimers({ now: START });
  ticks = [];
  failures = [];
  metrics = new Metrics();
  sampler = null;
});
afterEach(async () => {
  const stopping = sampler?.stop();
  await vi.runAllTimersAsync();
  await stopping;
  vi.useRealTimers();
});

describe("Sampler", () => {
  it("reads every container on a drift-free schedule and commits each tick's readings together", async () => {
    start([container("A", simulated("A")), container("B", simulated("B"))]);
    await vi.advanceTimersByTimeAsync(4500);
    expect(ticks).toHaveLength(5); // t = 0, 1, 2, 3, 4 s
    expect(ticks.every((tick) => tick.map((r) => r.container_id).join() === "A,B")).toBe(true);
    expect(ticks.map((tick) => tick[0]?.measurement_time)).toEqual(
      [0, 1, 2, 3, 4].map((s) => new Date(START + s * 1000).toISOString()),
    );
  });

  it("keeps the others on schedule while one driver hangs, and counts its timeouts", async () => {
    const hanging = hangingDriver();
    start([container("good", simulated("good")), container("dead", hanging)]);
    await vi.advanceTimersByTimeAsync(3500);
    expect(ticks.map((tick) => tick.map((r) => r.container_id))).toEqual([
      ["good"],
      ["good"],
      ["good"],
      ["good"],
    ]);
    // Each tick waited for the dead one's timeout (200 ms) at most, not longer.
    expect(ticks.map((tick) => Date.parse(tick[0]?.measurement_time ?? "") - START)).toEqual([
      0, 1000, 2000, 3000,
    ]);
    expect(metrics.get("read_timeouts", { container: "dead" })).toBe(4);
    expect(hanging.aborts).toBe(4); // the driver was told to stop waiting each time
  });

  it("counts a failing read and goes on", async () => {
    start([container("good", simulated("good")), container("bad", failingDriver())]);
    await vi.advanceTimersByTimeAsync(2500);
    expect(ticks).toHaveLength(3);
    expect(metrics.get("read_errors", { container: "bad" })).toBe(3);
    expect(metrics.get("readings_captured")).toBe(3);
  });

  it("does not stack reads on a driver that ignores the timeout", async () => {
    const slow = slowDriver(2500);
    start([container("slow", slow)]);
    await vi.advanceTimersByTimeAsync(5500);
    // Reads start at 0 s and 3 s and each runs 2.5 s: the ticks at 1, 2, 4 and 5 s find the
    // driver busy and are overruns, not stacked reads.
    expect(slow.reads).toBe(2);
    expect(metrics.get("read_overruns", { container: "slow" })).toBe(4);
    expect(metrics.get("read_timeouts", { container: "slow" })).toBe(2);
  });

  it("skips the ticks missed while the process was stalled instead of bursting", async () => {
    start([container("A", simulated("A"))]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(ticks).toHaveLength(2);
    vi.setSystemTime(START + 60_000); // the event loop was frozen for a minute
    await vi.advanceTimersByTimeAsync(2000);
    // Not the 58 missed ticks in a burst: the one due, then back on the schedule.
    expect(ticks.length).toBeLessThanOrEqual(6);
    expect(metrics.get("ticks_skipped")).toBeGreaterThan(50);
  });

  it("hands over a tick where no container could be read: no reading, each failure and its class", async () => {
    start([container("bad", failingDriver()), container("slow", hangingDriver())]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(ticks).toEqual([[], []]);
    expect(failures[0]).toEqual([
      { containerId: "bad", errorClass: "error", devices: [] },
      { containerId: "slow", errorClass: "timeout", devices: [] },
    ]);
  });

  it("passes on the class and devices a driver names in a DeviceReadError", async () => {
    const named: Driver = {
      open: () => Promise.resolve(),
      read: () =>
        Promise.reject(
          new DeviceReadError("crc", ["/dev/ttyUSB0 unit 3"], "answer with a bad CRC"),
        ),
      close: () => Promise.resolve(),
    };
    start([container("M", named)]);
    await vi.advanceTimersByTimeAsync(10);
    expect(failures[0]).toEqual([
      { containerId: "M", errorClass: "crc", devices: ["/dev/ttyUSB0 unit 3"] },
    ]);
  });

  it("replaces an out-of-range value with null and counts the sensor fault", async () => {
    const broken: Driver = {
      open: () => Promise.resolve(),
      read: () => Promise.resolve({ temperature: -3276.8, humidity_level: 55 }),
      close: () => Promise.resolve(),
    };
    start([container("A", broken)]);
    await vi.advanceTimersByTimeAsync(10);
    expect(ticks[0]?.[0]).toMatchObject({ temperature: null, humidity_level: 55, kilowatts: null });
    expect(metrics.get("sensor_faults", { container: "A", field: "temperature" })).toBe(1);
  });

  describe("a stop", () => {
    /** Stops the sampler under fake timers, letting the closing reads settle. */
    async function stopNow(): Promise<void> {
      const stopping = sampler?.stop();
      sampler = null;
      await vi.runAllTimersAsync();
      await stopping;
    }

    it("takes a closing reading of a group last read more than half an interval ago", async () => {
      start([container("A", simulated("A")), container("B", simulated("B"))]);
      await vi.advanceTimersByTimeAsync(1700); // ticks at 0 and 1 s; the last is 0.7 s old
      await stopNow();
      expect(ticks).toHaveLength(3);
      expect(ticks[2]?.map((r) => [r.container_id, r.measurement_time])).toEqual([
        ["A", new Date(START + 1700).toISOString()],
        ["B", new Date(START + 1700).toISOString()],
      ]);
    });

    it("takes none when the last tick is at most half an interval old", async () => {
      start([container("A", simulated("A"))]);
      await vi.advanceTimersByTimeAsync(1400);
      await stopNow();
      expect(ticks).toHaveLength(2);
    });

    it("judges each interval's group on its own", async () => {
      start([
        container("fast", simulated("fast"), 1000),
        container("slow", simulated("slow"), 10_000),
      ]);
      await vi.advanceTimersByTimeAsync(2600); // fast read 0.6 s ago, slow 2.6 s ago (of 10)
      await stopNow();
      expect(ticks.map((tick) => tick.map((r) => r.container_id).join())).toEqual([
        "fast",
        "slow",
        "fast",
        "fast",
        "fast",
      ]);
    });

    it("takes none for a group whose read is still under way: that read closes it", async () => {
      const slow = slowDriver(900);
      start([container("S", slow, 1000, 2000)]);
      await vi.advanceTimersByTimeAsync(1850); // the second read, begun at 1 s, runs to 1.9 s
      const reads = slow.reads;
      await stopNow();
      expect(slow.reads).toBe(reads);
      expect(ticks).toHaveLength(2);
      expect(metrics.get("read_overruns", { container: "S" })).toBe(0);
    });

    it("takes no reading after a stop that follows a stop", async () => {
      start([container("A", simulated("A"))]);
      await vi.advanceTimersByTimeAsync(1700);
      const first = sampler;
      await stopNow();
      await first?.stop();
      expect(ticks).toHaveLength(3);
    });
  });
});
