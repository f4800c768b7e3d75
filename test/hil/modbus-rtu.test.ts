import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { Sampler } from "../../agent/sampler.js";
import type { Measurement } from "../../core/record.js";
import { ReeferModel } from "../../drivers/simulated/model.js";
import { loadProfile } from "../../drivers/modbus/profile.js";
import type { Driver } from "../../drivers/driver.js";
import { waitFor } from "../support/wait-for.js";
import { Rig, requireSocat } from "./rig.js";
import type { SlaveUnit } from "./modbus-slave.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const socat = requireSocat();

const template = loadProfile("reefer-controller-template", ".");

const read = (driver: Driver) => driver.read(AbortSignal.timeout(5000));

/** Reads until `predicate` holds or the deadline passes; the bus reopens in the background. */
async function readUntil(
  driver: Driver,
  predicate: (m: Measurement) => boolean,
  ms = 10_000,
): Promise<Measurement> {
  let last: unknown;
  await waitFor(
    "a reading that meets the condition",
    async () => {
      last = await read(driver).catch((error: unknown) => error);
      return !(last instanceof Error) && predicate(last as Measurement);
    },
    ms,
    { detail: () => `last: ${last instanceof Error ? last.message : JSON.stringify(last)}` },
  );
  return last as Measurement;
}

describe.skipIf(socat.skip)("Modbus RTU on the pty rig (socat + jsmodbus slave)", () => {
  let rig: Rig;
  let sensor: SlaveUnit;
  let controller: SlaveUnit;
  let sensorDriver: Driver;
  let controllerDriver: Driver;

  beforeAll(async () => {
    rig = await Rig.start(socat.path ?? "socat");
    sensor = rig.slave.addUnit(1);
    controller = rig.slave.addUnit(7);
    // The sensor's driver keeps the rig's 150 ms and no retry: the fault cases below count on
    // them. The controller's only decodes: what it tests is the values, not the timing, so a
    // loaded machine (CI runs a fleet of agents beside this file) gets a second to answer and
    // one retry.
    sensorDriver = rig.driver("SENSOR1", { devices: [{ unitId: 1, profile: "xy-md02" }] });
    controllerDriver = rig.driver("REEFER7", {
      devices: [{ unitId: 7, profile: "reefer-controller-template" }],
      timeoutMs: 1000,
      retries: 1,
    });
    await sensorDriver.open();
    await controllerDriver.open();
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("reads the XY-MD02 with the one request of its datasheet and decodes -20.5 °C", async () => {
    sensor.setInputs(1, [0xff33, 0x021c]);
    const before = sensor.requests.length;
    expect(await read(sensorDriver)).toEqual({ temperature: -20.5, humidity_level: 54 });
    expect(sensor.requests.slice(before)).toEqual(["010400010002200b"]);
  });

  it("decodes a simulated reefer served through the template profile exactly as served", async () => {
    const model = new ReeferModel({
      scenario: "door-open",
      seed: 7,
      setpoint: -18,
      targetHumidity: 80,
      ambientTemperature: 30,
      scenarioOnsetSeconds: 0,
      defrostIntervalHours: 6,
      defrostMinutes: 20,
      doorOpeningsPerDay: 1,
      track: { latitude: 51.9, longitude: 4.1, headingDegrees: 90, speedKnots: 16 },
    });
    for (let i = 0; i < 5; i++) {
      model.advance(600);
      const served = model.sample();
      controller.serve(template, served);
      const decoded = await read(controllerDriver);
      for (const mapping of template.registers) {
        const want = served[mapping.field];
        const got = decoded[mapping.field];
        if (typeof want === "boolean") expect(got, mapping.field).toBe(want);
        else if (typeof want === "number") {
          // Exact up to the register's resolution (0.01 °C, a float32's 7 digits, whole seconds).
          const resolution = mapping.type === "float32" ? Math.abs(want) * 1e-6 : mapping.scale / 2;
          expect(Math.abs((got as number) - want), mapping.field).toBeLessThanOrEqual(resolution);
        }
      }
    }
    // Six requests per read, one per block of the map.
    expect(new Set(controller.requests.map((r) => r.slice(2, 12))).size).toBe(6);
  });

  it("counts each injected fault under its class, invents no value, and goes on", async () => {
    sensor.setInputs(1, [0x00fa, 0x01c3]);
    const cases = [
      { fault: { kind: "corrupt-crc" } as const, errorClass: "crc" },
      { fault: { kind: "drop" } as const, errorClass: "timeout" },
      { fault: { kind: "exception", code: 2 } as const, errorClass: "exception" },
      { fault: { kind: "exception", code: 4 } as const, errorClass: "exception" },
      { fault: { kind: "slow", ms: 250 } as const, errorClass: "timeout" },
    ];
    for (const { fault, errorClass } of cases) {
      const labels = { bus: rig.link.gatewayPath, unit: "1", class: errorClass };
      const before = rig.metrics.get("modbus_errors", labels);
      sensor.faults.push(fault);
      await expect(read(sensorDriver), fault.kind).rejects.toMatchObject({ errorClass });
      expect(rig.metrics.get("modbus_errors", labels), fault.kind).toBe(before + 1);
      if (fault.kind === "exception") {
        const code = { bus: rig.link.gatewayPath, unit: "1", code: String(fault.code) };
        expect(rig.metrics.get("modbus_exceptions", code)).toBe(1);
      }
      // The next read is clean and exact: nothing of the fault leaks into a value.
      expect(await read(sensorDriver), fault.kind).toEqual({
        temperature: 25,
        humidity_level: 45.1,
      });
    }
  });

  it("a reply too late for its request is never taken as the answer to the next one", async () => {
    // Two blocks of the same shape (FC 04, one register): without the silence after a timeout,
    // block A's late reply arrives while block B's request waits and is decoded as B.
    const profile = rig.writeProfile(
      "two-blocks",
      [
        "name: two-blocks",
        "registers:",
        "  - { field: temperature, function: input, address: 0, type: int16, scale: 0.1 }",
        "  - { field: humidity_level, function: input, address: 10, type: uint16, scale: 0.1 }",
      ].join("\n"),
    );
    const unit = rig.slave.addUnit(9);
    const driver = rig.driver("TWO", { devices: [{ unitId: 9, profile }] });
    await driver.open();
    unit.setInputs(0, [0x00c8]); // 20.0 °C
    unit.setInputs(10, [0x0320]); // 80.0 %
    expect(await read(driver)).toEqual({ temperature: 20, humidity_level: 80 });
    // A's reply comes after A's 150 ms timeout; B's reply is slow but within its timeout. On a
    // busy machine B may time out too (its timer late, its reply later): the case is tried until
    // it happens (A timed out, B answered), and in every try no value may be the other block's.
    const timeouts = () =>
      rig.metrics.get("modbus_errors", { bus: rig.link.gatewayPath, unit: "9", class: "timeout" });
    let happened = 0;
    for (let attempt = 0; attempt < 10 && happened === 0; attempt++) {
      const before = { timeouts: timeouts(), late: unit.lateReplies };
      unit.faults.push({ kind: "slow", ms: 220 }, { kind: "slow", ms: 100 });
      const measurement = await read(driver);
      for (const [field, value] of Object.entries(measurement))
        expect(value, field).toBe(field === "temperature" ? 20 : 80);
      if (measurement.temperature === undefined && measurement.humidity_level === 80) {
        expect(timeouts()).toBe(before.timeouts + 1);
        happened++;
      }
      // Both held-back replies written before the next try, so none is left in the line.
      await waitFor("both slow replies written", () => unit.lateReplies >= before.late + 2, 10_000);
    }
    expect(happened, "A timed out while B answered, in one of ten tries").toBe(1);
    expect(await read(driver)).toEqual({ temperature: 20, humidity_level: 80 });
  });
});

describe.skipIf(socat.skip)("a shared RS-485 bus with a dead slave", () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await Rig.start(socat.path ?? "socat");
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("keeps the live slaves on schedule, opens the dead one's circuit and probes it later", async () => {
    const units = [1, 2, 3].map((id) => {
      const unit = rig.slave.addUnit(id);
      unit.setInputs(1, [100 * id, 500]);
      return unit;
    });
    const dead = units[1];
    if (!dead) throw new Error("no unit 2");
    dead.dead = true;
    const containers = [1, 2, 3].map((id) => ({
      id: `C${id}`,
      productId: "P01",
      // The read timeouts leave room for a loaded machine (CI runs a 500-gateway fleet beside
      // this file): a live slave gets 350 ms an answer, the dead one's 150 ms sit between them,
      // and a tick's 950 ms hold all three. What must hold is that each live slave answers every
      // tick, not how fast.
      intervalMs: 1000,
      timeoutMs: 950,
      driver: rig.driver(`C${id}`, {
        devices: [{ unitId: id, profile: "xy-md02" }],
        timeoutMs: id === 2 ? 150 : 350,
        breaker: { failuresToOpen: 2, probeAfterMs: 3000, maxProbeAfterMs: 3000 },
      }),
    }));
    const ticks: { container_id: string; temperature: number | null }[][] = [];
    const sampler = new Sampler({
      gatewayId: "gw",
      bootId: "boot",
      containers,
      clock: systemClock,
      logger: pino({ level: "silent" }),
      metrics: rig.metrics,
      onTick: (tick) => ticks.push(tick.samples.map((s) => s.reading)),
    });
    sampler.start();
    // 12 ticks (12 s at 1 s), by count: enough for the circuit to open and be probed.
    await waitFor(
      "12 ticks and 3 requests to the dead slave",
      () => ticks.length >= 12 && dead.requests.length >= 3,
      60_000,
    );
    await sampler.stop();

    const of = (id: string) => ticks.flatMap((t) => t.filter((r) => r.container_id === id));
    // Every tick carried both live slaves' readings, with the values they serve.
    expect(ticks.length).toBeGreaterThanOrEqual(8);
    expect(of("C1")).toHaveLength(ticks.length);
    expect(of("C3")).toHaveLength(ticks.length);
    expect(of("C1").every((r) => r.temperature === 10)).toBe(true);
    expect(of("C3").every((r) => r.temperature === 30)).toBe(true);
    expect(rig.metrics.get("read_timeouts", { container: "C1" })).toBe(0);
    expect(rig.metrics.get("read_timeouts", { container: "C3" })).toBe(0);
    // The dead slave: never a reading, its circuit opened, requests skipped, and it was probed.
    expect(of("C2")).toHaveLength(0);
    const unit2 = { bus: rig.link.gatewayPath, unit: "2" };
    expect(rig.metrics.get("modbus_circuit_opens", unit2)).toBeGreaterThanOrEqual(1);
    expect(rig.metrics.get("modbus_skipped", unit2)).toBeGreaterThan(0);
    const sentToDead = dead.requests.length;
    // 2 failures open it, then a probe every 3 s: far fewer requests than ticks.
    expect(sentToDead).toBeGreaterThanOrEqual(3);
    expect(sentToDead).toBeLessThan(ticks.length / 2);
    expect(rig.metrics.get("modbus_circuit_open", unit2)).toBe(1);
  }, 75_000);

  it("closes the circuit when the slave answers a probe again", async () => {
    const driver = rig.driver("C2again", {
      devices: [{ unitId: 2, profile: "xy-md02" }],
      breaker: { failuresToOpen: 1, probeAfterMs: 300, maxProbeAfterMs: 300 },
    });
    await driver.open();
    const unit = { bus: rig.link.gatewayPath, unit: "2" };
    await readUntil(driver, () => false, 500).catch(() => undefined);
    const revived = rig.slave.unit(2);
    revived.dead = false;
    expect(await readUntil(driver, (m) => m.temperature === 20)).toMatchObject({ temperature: 20 });
    expect(rig.metrics.get("modbus_circuit_open", unit)).toBe(0);
  });
});

describe.skipIf(socat.skip)("the USB adapter unplugged and plugged back", () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await Rig.start(socat.path ?? "socat");
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("reopens the port with backoff and reads again, without a restart", async () => {
    const unit = rig.slave.addUnit(1);
    unit.setInputs(1, [0x0050, 0x0100]);
    const driver = rig.driver("C1", { devices: [{ unitId: 1, profile: "xy-md02" }] });
    await driver.open();
    expect(await readUntil(driver, (m) => m.temperature === 8)).toEqual({
      temperature: 8,
      humidity_level: 25.6,
    });
    const bus = { bus: rig.link.gatewayPath };

    await rig.unplug();
    // The port is gone: reads fail for as long as it is out; the one under way when the adapter
    // went times out, the rest are classified port_gone.
    const classes: string[] = [];
    for (let i = 0; i < 10; i++) {
      await read(driver).then(
        () => classes.push("read"),
        (error: unknown) => classes.push((error as { errorClass?: string }).errorClass ?? "?"),
      );
    }
    expect(classes.slice(2)).toEqual(new Array(8).fill("port_gone"));
    expect(classes.slice(0, 2).every((c) => c === "timeout" || c === "port_gone")).toBe(true);
    expect(rig.metrics.get("modbus_port_lost", bus)).toBe(1);
    expect(
      rig.metrics.get("modbus_errors", { ...bus, unit: "1", class: "port_gone" }),
    ).toBeGreaterThanOrEqual(8);

    unit.setInputs(1, [0xffce, 0x0101]); // -5.0 °C after the replug
    await rig.replug();
    expect(await readUntil(driver, (m) => m.temperature === -5)).toEqual({
      temperature: -5,
      humidity_level: 25.7,
    });
    expect(rig.metrics.get("modbus_port_opens", bus)).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
