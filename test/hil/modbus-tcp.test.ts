import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../core/metrics.js";
import type { Measurement } from "../../core/record.js";
import type { Driver } from "../../drivers/driver.js";
import { waitFor } from "../support/wait-for.js";
import { TcpSlave } from "./tcp-slave.js";
import { modbusDriver } from "./modbus-driver.js";

const read = (driver: Driver) => driver.read(AbortSignal.timeout(5000));

async function readUntil(
  driver: Driver,
  predicate: (m: Measurement) => boolean,
): Promise<Measurement> {
  let last: Measurement | null = null;
  await waitFor(
    "a reading that meets the condition",
    async () => {
      last = await read(driver).catch(() => null);
      return last !== null && predicate(last);
    },
    10_000,
  );
  return last as unknown as Measurement;
}

describe("Modbus TCP against a jsmodbus device on loopback", () => {
  const slave = new TcpSlave();
  const metrics = new Metrics();
  let driver: Driver;

  beforeAll(async () => {
    await slave.start();
    driver = modbusDriver(
      {
        type: "modbus-tcp",
        host: "127.0.0.1",
        port: slave.port,
        timeoutMs: 300,
        reopen: { initialDelayMs: 100, maxDelayMs: 400 },
        devices: [{ unitId: 1, profile: "reefer-controller-template" }],
      },
      ".",
      { containerId: "TCP1", metrics },
    );
    await driver.open();
  });
  afterAll(async () => {
    await driver.close();
    await slave.stop();
  });

  it("reads and decodes the whole template map", async () => {
    slave.unit.setInputs(0, [0xf830, 0xf830, 0x0898, 0x02ee]); // -20.00, -20.00, 22.00 °C, 75.0 %
    slave.unit.setInputs(16, [0x0000, 0x4120]); // 10.0 kW, CDAB
    expect(await readUntil(driver, () => true)).toMatchObject({
      temperature: -20,
      target_temperature: -20,
      ambient_temperature: 22,
      humidity_level: 75,
      kilowatts: 10,
    });
  });

  it("counts an exception and a dropped reply under their classes, and reads on", async () => {
    const bus = { bus: `127.0.0.1:${slave.port}`, unit: "1" };
    slave.unit.faults.push({ kind: "exception", code: 2 });
    const partial = await read(driver);
    // The first request of the map (its discrete input) failed; the other blocks were read.
    expect(partial.defrost_cycle).toBeUndefined();
    expect(partial.temperature).toBe(-20);
    expect(metrics.get("modbus_exceptions", { ...bus, code: "2" })).toBe(1);
    const timeouts = metrics.get("modbus_errors", { ...bus, class: "timeout" });
    slave.unit.faults.push({ kind: "drop" }, { kind: "drop" }); // the first try and its retry
    await read(driver);
    expect(metrics.get("modbus_errors", { ...bus, class: "timeout" })).toBe(timeouts + 2);
    expect(await read(driver)).toMatchObject({ temperature: -20, humidity_level: 75 });
  });

  it("drops a reply that comes after its timeout by its transaction id, with no quiet window", async () => {
    const clean = await read(driver);
    // Each block of the map in turn answers late: no other block may take that answer.
    for (let block = 0; block < 6; block++) {
      const late = slave.unit.lateReplies;
      for (let i = 0; i < block; i++) slave.unit.faults.push({ kind: "slow", ms: 0 });
      slave.unit.faults.push({ kind: "slow", ms: 450 }, { kind: "slow", ms: 450 });
      const pushed = slave.unit.faults.length;
      const partial = await read(driver);
      for (const [field, value] of Object.entries(partial)) {
        expect(value, `block ${block}: ${field}`).toEqual(clean[field as keyof Measurement]);
      }
      const delayed = pushed - slave.unit.faults.length;
      slave.unit.faults.length = 0;
      // Let every late reply reach the driver's socket before the next block goes.
      await waitFor(
        `block ${block}'s ${delayed} late replies`,
        () => slave.unit.lateReplies >= late + delayed,
        10_000,
      );
    }
    expect(await read(driver)).toEqual(clean);
  });

  it("reconnects after the device drops the connection and restarts", async () => {
    const port = slave.port;
    await slave.stop();
    // The read under way when the connection dropped may time out instead.
    await expect(read(driver)).rejects.toMatchObject({
      errorClass: expect.stringMatching(/^(port_gone|timeout)$/) as unknown,
    });
    slave.unit.setInputs(0, [0x0064]); // 1.00 °C
    await slave.start(port);
    expect(await readUntil(driver, (m) => m.temperature === 1)).toMatchObject({ temperature: 1 });
    const bus = { bus: `127.0.0.1:${port}` };
    expect(metrics.get("modbus_port_lost", bus)).toBe(1);
    expect(metrics.get("modbus_port_opens", bus)).toBeGreaterThanOrEqual(2);
  });
});
