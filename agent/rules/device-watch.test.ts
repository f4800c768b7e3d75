import { describe, expect, it } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import type { ReeferReading } from "../../core/record.js";
import type { ReadFailure } from "../tick.js";
import { DeviceWatch } from "./device-watch.js";

const T0 = Date.UTC(2026, 11, 1, 6);
const failure = (errorClass = "timeout"): ReadFailure => ({
  containerId: "C1",
  errorClass,
  devices: ["/dev/ttyUSB0 unit 1"],
});

/** One tick a second from T0: `good` ticks carry a reading of C1, the others a failure. */
function run(pattern: readonly boolean[], afterMs = 30_000) {
  const watch = new DeviceWatch("gw", new Map([["C1", "P01"]]), new Map([["C1", afterMs]]));
  let seq = 0;
  return pattern.flatMap((good, i) => {
    const at = { wall: T0 + i * 1000, mono: i * 1000 };
    const readings: ReeferReading[] = good ? [{ ...makeReading("C1"), seq: ++seq }] : [];
    return watch
      .observe(readings, good ? [] : [failure(i % 2 ? "circuit_open" : "timeout")], at, () => seq)
      .map((alert) => ({ ...alert, tick: i }));
  });
}

describe("device_unreachable", () => {
  it("is raised after the configured time without a good read, naming devices and class", () => {
    const alerts = run([true, true, ...Array<boolean>(40).fill(false)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      tick: 31, // last good read at tick 1, 30 s before
      alert_type: "device_unreachable",
      severity: "critical",
      state: "raised",
      devices: ["/dev/ttyUSB0 unit 1"],
      // The breaker's circuit_open says less than the timeout that opened it.
      error_class: "timeout",
      first_seq: 2,
      last_seq: 2,
      alert_id: "C1:device_unreachable:2:raised",
      since: new Date(T0 + 1000).toISOString(),
    });
  });

  it("clears on the first good read, carrying the raise's seq and cause", () => {
    const alerts = run([true, ...Array<boolean>(35).fill(false), true, true]);
    expect(alerts.map((a) => [a.state, a.tick])).toEqual([
      ["raised", 30],
      ["cleared", 36],
    ]);
    expect(alerts[1]).toMatchObject({
      alert_id: "C1:device_unreachable:1:cleared",
      first_seq: 1,
      last_seq: 2,
      error_class: "timeout",
    });
  });

  it("stays quiet on a noisy line that still gets one read in three through", () => {
    const noisy = Array.from({ length: 300 }, (_, i) => i % 3 === 2);
    expect(run(noisy, 5_000)).toEqual([]);
  });

  it("counts from the first look when a device never answered since the start", () => {
    const alerts = run(Array<boolean>(12).fill(false), 10_000);
    expect(alerts.map((a) => [a.state, a.tick, a.first_seq])).toEqual([["raised", 10, 0]]);
  });

  it("watches nothing that is not configured (the rule disabled)", () => {
    const watch = new DeviceWatch("gw", new Map(), new Map());
    const at = { wall: T0 + 3_600_000, mono: 3_600_000 };
    watch.observe([], [failure()], { wall: T0, mono: 0 }, () => 0);
    expect(watch.observe([], [failure()], at, () => 0)).toEqual([]);
  });
});
