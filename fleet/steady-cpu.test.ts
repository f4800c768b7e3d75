import { describe, expect, it } from "vitest";
import { steadyCpu, steadySpan } from "./steady-cpu.js";

describe("steady CPU", () => {
  it("spans from the settling time to a second before the first chaos event", () => {
    expect(steadySpan(300, [200])).toEqual({ from: 15, to: 199 });
    expect(steadySpan(300, [250, 120])).toEqual({ from: 15, to: 119 });
    // No chaos: until the run's end.
    expect(steadySpan(120, [])).toEqual({ from: 15, to: 119 });
    // A short run settles for a quarter of it.
    expect(steadySpan(20, [])).toEqual({ from: 5, to: 19 });
  });

  it("has no window when chaos comes too soon for 10 s of steady state", () => {
    expect(steadySpan(75, [10, 35])).toBeNull();
    expect(steadySpan(15, [4])).toBeNull();
  });

  it("divides the CPU between two snapshots by the readings captured between them", () => {
    const from = { cpuSeconds: 100, cpuSystemSeconds: 40, captured: 50_000, at: 1_000_000 };
    const to = { cpuSeconds: 175, cpuSystemSeconds: 65, captured: 150_000, at: 1_184_000 };
    expect(steadyCpu(from, to)).toEqual({
      seconds: 184,
      readings: 100_000,
      msPerReading: 0.75,
      systemMsPerReading: 0.25,
    });
    expect(steadyCpu(from, { ...to, captured: 50_000 })).toBeNull();
  });
});
