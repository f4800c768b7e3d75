import { describe, expect, it } from "vitest";
import { reportByExceptionSchema } from "../../config/rules-schema.js";
import { makeReading } from "../../test/support/readings.js";
import { ReportByException } from "./report-by-exception.js";

const T0 = Date.UTC(2026, 10, 25, 12);
const rbe = () =>
  new ReportByException(
    new Map([["C1", reportByExceptionSchema.parse({ maxSilenceSeconds: 600 })]]),
  );
const at = (s: number, overrides = {}) => makeReading("C1", T0 + s * 1000, overrides);

describe("report by exception", () => {
  it("publishes the first reading, then only changes beyond a deadband", () => {
    const r = rbe();
    expect(r.decide(at(0, { temperature: 6.0 }), T0, false)).toBe(true);
    expect(r.decide(at(60, { temperature: 6.3 }), T0 + 60_000, false)).toBe(false); // within 0.5
    expect(r.decide(at(120, { temperature: 6.49 }), T0 + 120_000, false)).toBe(false); // vs the last published 6.0
    expect(r.decide(at(180, { temperature: 6.6 }), T0 + 180_000, false)).toBe(true);
    expect(r.decide(at(240, { temperature: 6.8 }), T0 + 240_000, false)).toBe(false);
  });

  it("publishes any boolean change and any change between null and a value", () => {
    const r = rbe();
    r.decide(at(0), T0, false);
    expect(r.decide(at(60, { defrost_cycle: true }), T0 + 60_000, false)).toBe(true);
    expect(
      r.decide(at(120, { defrost_cycle: true, humidity_level: null }), T0 + 120_000, false),
    ).toBe(true);
    expect(
      r.decide(at(180, { defrost_cycle: true, humidity_level: null }), T0 + 180_000, false),
    ).toBe(false);
  });

  it("publishes at least every maxSilenceSeconds, and whenever the rules find it noteworthy", () => {
    const r = rbe();
    r.decide(at(0), T0, false);
    expect(r.decide(at(599), T0 + 599_000, false)).toBe(false);
    expect(r.decide(at(600), T0 + 600_000, false)).toBe(true);
    expect(r.decide(at(660), T0 + 660_000, true)).toBe(true);
  });

  it("leaves containers without it alone", () => {
    expect(rbe().applies("C2")).toBe(false);
    const r = rbe();
    r.decide(at(0), T0, false);
    expect(r.decide(makeReading("C2", T0 + 1000), T0 + 1000, false)).toBe(true);
  });
});
