import { describe, expect, it } from "vitest";
import type { Measurement } from "../../core/record.js";
import { simulatedDriverConfig, type Scenario } from "./config.js";
import { ReeferModel } from "./model.js";

/** Runs a model for `hours` of model time, sampling every `everySeconds`. */
function run(
  scenario: Scenario,
  hours: number,
  extra: Partial<Parameters<typeof model>[1]> = {},
  everySeconds = 60,
) {
  const m = model(scenario, extra);
  const samples: Measurement[] = [];
  for (let t = 0; t < hours * 3600; t += everySeconds) {
    m.advance(everySeconds);
    samples.push(m.sample());
  }
  return samples;
}

function model(scenario: Scenario, extra: Record<string, unknown> = {}) {
  const config = simulatedDriverConfig.parse({ type: "simulated", scenario, ...extra });
  return new ReeferModel({ ...config, setpoint: 4, targetHumidity: 40 });
}

const temps = (samples: Measurement[]) => samples.map((s) => s.temperature ?? Number.NaN);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe("simulated reefer", () => {
  it("is deterministic for a seed, and differs between seeds", () => {
    expect(run("normal", 2, { seed: 7 })).toEqual(run("normal", 2, { seed: 7 }));
    expect(run("normal", 2, { seed: 7 })).not.toEqual(run("normal", 2, { seed: 8 }));
  });

  it("normal: holds the setpoint with compressor cycling, defrosts, and never crosses 18 °C", () => {
    const samples = run("normal", 48, { doorOpeningsPerDay: 4 });
    const t = temps(samples);
    expect(Math.max(...t)).toBeLessThan(18);
    expect(Math.abs(mean(t) - 4)).toBeLessThan(1.5);
    const kw = samples.map((s) => s.kilowatts ?? 0);
    expect(kw.some((k) => k > 4)).toBe(true); // compressor on
    expect(kw.some((k) => k < 1)).toBe(true); // and off: it cycles
    expect(samples.some((s) => s.defrost_cycle === true)).toBe(true);
    expect(samples.some((s) => (s.time_door_open ?? 0) > 0)).toBe(true);
    expect(samples.every((s) => s.latitude === null && s.longitude === null)).toBe(true);
  });

  it("temperature-rising: passes 18 °C within half an hour of the compressor failing", () => {
    const samples = run("temperature-rising", 1, { scenarioOnsetSeconds: 600 });
    const t = temps(samples);
    expect(Math.max(...t.slice(0, 10))).toBeLessThan(8); // healthy for 10 minutes
    const firstOver = t.findIndex((v) => v > 18);
    expect(firstOver).toBeGreaterThan(10);
    expect(firstOver).toBeLessThan(10 + 30);
  });

  it("power-off: no power, fans stopped, temperature drifting towards ambient", () => {
    const samples = run("power-off", 12);
    expect(samples.every((s) => s.kilowatts === 0 && s.fan_1 === false && s.fan_2 === false)).toBe(
      true,
    );
    const t = temps(samples);
    expect(t[t.length - 1]).toBeGreaterThan((t[0] ?? 0) + 10);
    expect(Math.max(...t)).toBeLessThan(30);
  });

  it("co2-sensor reads CO2 above 12 %, o2-sensor reads O2 around 11 %", () => {
    const co2 = run("co2-sensor", 2).map((s) => s.carbon_dioxide_level ?? 0);
    expect(Math.abs(mean(co2) - 12.8)).toBeLessThan(0.3);
    expect(Math.min(...co2)).toBeGreaterThan(12);
    const o2 = run("o2-sensor", 2).map((s) => s.oxygen_level ?? 0);
    expect(Math.abs(mean(o2) - 11)).toBeLessThan(0.3);
    const normal = run("normal", 2);
    expect(Math.max(...normal.map((s) => s.carbon_dioxide_level ?? 0))).toBeLessThan(12);
    expect(Math.min(...normal.map((s) => s.oxygen_level ?? 0))).toBeGreaterThan(12);
  });

  it("fan-failure reports a stopped fan; door-open reports the door open all period and warms", () => {
    const fans = run("fan-failure", 1);
    expect(fans.every((s) => s.fan_2 === false)).toBe(true);
    const door = run("door-open", 2);
    expect(door.every((s) => s.time_door_open === 60)).toBe(true);
    expect(Math.max(...temps(door))).toBeGreaterThan(18);
  });

  it("keeps the gas fractions summing to about 100 % and values within physical ranges", () => {
    for (const s of run("normal", 6)) {
      const sum = (s.oxygen_level ?? 0) + (s.carbon_dioxide_level ?? 0) + (s.nitrogen_level ?? 0);
      expect(sum).toBeCloseTo(99.07, 1);
      expect(s.humidity_level).toBeGreaterThanOrEqual(0);
      expect(s.humidity_level).toBeLessThanOrEqual(100);
    }
  });

  it("follows a GPS track when given one", () => {
    const samples = run("normal", 10, {
      track: { latitude: 0, longitude: 0, headingDegrees: 90, speedKnots: 12 },
    });
    const last = samples[samples.length - 1];
    expect(last?.latitude).toBeCloseTo(0, 3);
    expect(last?.longitude).toBeCloseTo(2, 1); // 120 nautical miles east along the equator = 2°
  });
});
