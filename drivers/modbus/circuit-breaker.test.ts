import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";

describe("CircuitBreaker", () => {
  const options = { failuresToOpen: 3, probeAfterMs: 1000, maxProbeAfterMs: 4000 };

  it("opens after the configured failures in a row, not before", () => {
    const breaker = new CircuitBreaker(options);
    expect(breaker.failed(0)).toBe(false);
    expect(breaker.failed(10)).toBe(false);
    expect(breaker.state).toBe("closed");
    expect(breaker.failed(20)).toBe(true);
    expect(breaker.state).toBe("open");
    expect(breaker.allow(500)).toBe(false);
    expect(breaker.waitMs(500)).toBe(520);
  });

  it("a success in between resets the count", () => {
    const breaker = new CircuitBreaker(options);
    breaker.failed(0);
    breaker.failed(1);
    breaker.succeeded();
    expect(breaker.failed(2)).toBe(false);
    expect(breaker.failures).toBe(1);
  });

  it("lets exactly one probe through when the wait is over, and doubles the wait up to the ceiling", () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failed(0);
    const waits: number[] = [];
    let now = 0;
    for (let round = 0; round < 4; round++) {
      now += breaker.waitMs(now);
      waits.push(now);
      expect(breaker.allow(now)).toBe(true);
      expect(breaker.state).toBe("half-open");
      expect(breaker.allow(now)).toBe(false); // one probe at a time
      expect(breaker.failed(now)).toBe(true);
    }
    // Opened at 0 for 1 s, then 2 s, 4 s, 4 s (ceiling).
    expect(waits).toEqual([1000, 3000, 7000, 11000]);
  });

  it("closes on a successful probe", () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failed(0);
    expect(breaker.allow(1000)).toBe(true);
    breaker.succeeded();
    expect(breaker.state).toBe("closed");
    expect(breaker.failures).toBe(0);
    expect(breaker.allow(1000)).toBe(true);
  });

  it("a probe that was never sent does not hold the circuit half-open", () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failed(0);
    expect(breaker.allow(1000)).toBe(true);
    breaker.abandonedProbe();
    expect(breaker.state).toBe("open");
    expect(breaker.allow(1000)).toBe(true);
  });
});
