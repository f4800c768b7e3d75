import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import type { Driver } from "../../drivers/driver.js";
import { simulatedDriver } from "../../drivers/simulated/driver.js";
import type { Scenario } from "../../drivers/simulated/config.js";
import type { Clock } from "../../core/clock.js";
import { Metrics } from "../../core/metrics.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import type { Measurement, ReeferReading } from "../../core/record.js";
import { Sampler } from "../sampler.js";
import type { AlertRecord, StateAlert } from "../../core/alerts.js";
import { RuleEngine } from "./engine.js";
import { driverContext } from "../../test/support/driver-context.js";

const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
const logger = pino({ level: "silent" });
const carrots = BUILTIN_PRODUCTS[0] as Product; // P01, 4 °C

/**
 * The real sampler and simulated reefer under fake timers, one reading a (fake) second at 60×
 * model speed, judged by the rule engine: minutes of reefer life per second of test.
 */
async function run(
  driver: Driver,
  minutes: number,
  rules: Record<string, unknown> = {},
): Promise<{ alerts: AlertRecord[]; readings: ReeferReading[] }> {
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse(rules),
    containers: new Map([["C1", carrots]]),
  });
  const alerts: AlertRecord[] = [];
  const readings: ReeferReading[] = [];
  let seq = 0;
  const sampler = new Sampler({
    gatewayId: "gw",
    bootId: "boot",
    containers: [{ id: "C1", productId: "P01", driver, intervalMs: 1000, timeoutMs: 500 }],
    clock,
    logger,
    metrics: new Metrics(),
    onTick: (tick) => {
      const sequenced = tick.samples.map((s) => ({ ...s.reading, seq: ++seq }));
      readings.push(...sequenced);
      alerts.push(
        ...engine.evaluate(
          sequenced,
          tick.samples.map((s) => s.t),
        ),
      );
    },
  });
  sampler.start();
  await vi.advanceTimersByTimeAsync(minutes * 1000);
  const stopping = sampler.stop();
  await vi.runAllTimersAsync();
  await stopping;
  alerts.push(...engine.flush());
  return { alerts, readings };
}

function simulated(scenario: Scenario, extra: Record<string, unknown> = {}): Driver {
  const config = simulatedDriver.configSchema.parse({
    type: "simulated",
    scenario,
    timeScale: 60,
    ...extra,
  });
  return simulatedDriver.create(
    config,
    driverContext({ containerId: "C1", product: carrots, clock, logger }),
  );
}

const stateAlerts = (alerts: AlertRecord[], type: StateAlert["alert_type"]) =>
  alerts.filter((a): a is StateAlert => a.alert_type === type).map((a) => a.state);

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 25, 12) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("edge rules on simulated reefers", () => {
  it("temperature-rising: raises an excursion within minutes of crossing 18 °C, and reports the windows", async () => {
    const { alerts, readings } = await run(
      simulated("temperature-rising", { scenarioOnsetSeconds: 600 }),
      60,
    );
    const firstOver = readings.findIndex((r) => (r.temperature ?? 0) > 18);
    expect(firstOver).toBeGreaterThan(10);
    const raised = alerts.find(
      (a): a is StateAlert => a.alert_type === "temperature_excursion" && a.state === "raised",
    );
    expect(raised).toBeDefined();
    // Three consecutive readings over: raised on the third, one model minute apart.
    expect(raised?.first_seq).toBe(readings[firstOver]?.seq);
    expect(raised?.last_seq).toBe((readings[firstOver]?.seq ?? 0) + 2);
    expect(raised).toMatchObject({
      severity: "critical",
      limit: 18,
      container_id: "C1",
      product_id: "P01",
    });
    const windows = alerts.filter((a) => a.alert_type === "temperature_window");
    expect(windows.length).toBeGreaterThan(0);
    expect(windows[0]).toMatchObject({ threshold: 18, state: "closed" });
  });

  it("normal with defrost and door openings raises nothing, even with a tight per-product threshold", async () => {
    const tight = { temperature: { tolerance: 2 } }; // carrots: over 6 °C
    const { alerts, readings } = await run(
      simulated("normal", { doorOpeningsPerDay: 6, seed: 3 }),
      48 * 60,
      tight,
    );
    expect(readings.some((r) => r.defrost_cycle)).toBe(true);
    expect(readings.some((r) => (r.time_door_open ?? 0) > 0)).toBe(true);
    expect(readings.some((r) => (r.temperature ?? 0) > 6)).toBe(true); // warm spells did happen
    expect(alerts.filter((a) => a.alert_type !== "temperature_window")).toEqual([]);
    // Without the grace periods, the same warm spells would raise an excursion.
    const noGrace = {
      temperature: { tolerance: 2, graceAfterDefrostSeconds: 0, graceAfterDoorSeconds: 0 },
    };
    vi.setSystemTime(Date.UTC(2026, 10, 25, 12));
    const unsuppressed = await run(
      simulated("normal", { doorOpeningsPerDay: 6, seed: 3 }),
      48 * 60,
      noGrace,
    );
    expect(stateAlerts(unsuppressed.alerts, "temperature_excursion")).toContain("raised");
  });

  it("power-off raises a power alert after its grace, not a fan alert", async () => {
    // Graces run in event time (measurement_time): here one reading a second.
    const { alerts, readings } = await run(
      simulated("power-off", { scenarioOnsetSeconds: 300 }),
      90,
    );
    expect(stateAlerts(alerts, "power_off")).toEqual(["raised"]);
    expect(stateAlerts(alerts, "fans_stopped")).toEqual([]);
    const raised = alerts.find((a) => a.alert_type === "power_off") as StateAlert;
    const firstOff = readings.find((r) => r.kilowatts === 0);
    expect(Date.parse(raised.alert_time) - Date.parse(firstOff?.measurement_time ?? "")).toBe(
      60_000,
    );
  });

  it("fan-failure raises fans_stopped; co2-sensor and o2-sensor raise their atmosphere alerts", async () => {
    expect(stateAlerts((await run(simulated("fan-failure"), 150)).alerts, "fans_stopped")).toEqual([
      "raised",
    ]);
    const co2 = await run(simulated("co2-sensor"), 90, { atmosphere: { band: 2 } });
    expect(stateAlerts(co2.alerts, "carbon_dioxide_high")).toEqual(["raised"]);
    const o2 = await run(simulated("o2-sensor"), 90, { atmosphere: { band: 2 } });
    expect(stateAlerts(o2.alerts, "oxygen_low")).toEqual(["raised"]);
    expect(stateAlerts(o2.alerts, "carbon_dioxide_high")).toEqual([]);
  });

  it("raises a sensor fault when a field reads null for its grace, and clears it when it reads again", async () => {
    let broken = false;
    const flaky: Driver = {
      open: () => Promise.resolve(),
      read: (): Promise<Measurement> =>
        Promise.resolve({
          temperature: broken ? null : 4.2,
          kilowatts: 1,
          fan_1: true,
          fan_2: true,
          fan_3: true,
        }),
      close: () => Promise.resolve(),
    };
    setTimeout(() => (broken = true), 10_000);
    setTimeout(() => (broken = false), 400_000);
    const { alerts } = await run(flaky, 500, { sensorFault: { afterSeconds: 300 } });
    const faults = alerts.filter((a): a is StateAlert => a.alert_type === "sensor_fault");
    expect(faults.map((a) => [a.state, a.field])).toEqual([
      ["raised", "temperature"],
      ["cleared", "temperature"],
    ]);
    expect(Date.parse(faults[0]?.alert_time ?? "") - Date.parse(faults[0]?.since ?? "")).toBe(
      300_000,
    );
  });

  it("hysteresis: clears an excursion only below threshold minus the band", async () => {
    const temps = [19, 19, 19, 17.5, 18.5, 17.1, 16.9];
    let i = 0;
    const scripted: Driver = {
      open: () => Promise.resolve(),
      read: () =>
        Promise.resolve({
          temperature: temps[Math.min(i++, temps.length - 1)] ?? null,
          kilowatts: 2,
        }),
      close: () => Promise.resolve(),
    };
    const { alerts } = await run(scripted, 7, { temperature: { clearBand: 1 } });
    const excursions = alerts.filter(
      (a): a is StateAlert => a.alert_type === "temperature_excursion",
    );
    expect(excursions.map((a) => [a.state, a.value])).toEqual([
      ["raised", 19],
      ["cleared", 16.9],
    ]);
  });

  it("raises after M seconds over when that comes before N readings", async () => {
    const { alerts } = await run(simulated("temperature-rising"), 30, {
      temperature: { raiseAfterReadings: 1000, raiseAfterSeconds: 5 },
    });
    const raised = alerts.find((a): a is StateAlert => a.alert_type === "temperature_excursion");
    expect(Date.parse(raised?.alert_time ?? "") - Date.parse(raised?.since ?? "")).toBe(5000);
  });
});
