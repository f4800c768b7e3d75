import { setInterval } from "node:timers/promises";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../core/metrics.js";
import { FIELD_RANGES } from "../../agent/normalizer.js";
import type { NumericField } from "../../core/record.js";
import type { Driver } from "../../drivers/driver.js";
import { makeTempDir } from "../support/tmp.js";
import { ModbusSlaveBus } from "./modbus-slave.js";
import { requireSocat } from "./rig.js";
import { SerialLink } from "./serial-link.js";
import { modbusDriver } from "./modbus-driver.js";

/**
 * Reading checks that hold for any device: against real hardware when TEST_SERIAL_PORT names a
 * USB-RS485 adapter with a sensor on it (test/hil/README.md has the XY-MD02 wiring;
 * TEST_SERIAL_UNIT (1), TEST_SERIAL_PROFILE (xy-md02), TEST_SERIAL_BAUD and TEST_SERIAL_PARITY
 * adjust it), else against the pty rig serving an XY-MD02, so CI runs them too. Fault injection
 * needs the rig's slave and stays in modbus-rtu.test.ts.
 */
const realPort = process.env.TEST_SERIAL_PORT;
// On the rig it needs socat: missing, it skips with the reason printed, and fails under CI.
const socat = realPort ? { path: null, skip: false } : requireSocat();

describe.skipIf(socat.skip)(`Modbus RTU on ${realPort ?? "the pty rig"}`, () => {
  const metrics = new Metrics();
  let driver: Driver;
  let link: SerialLink | null = null;
  let slave: ModbusSlaveBus | null = null;
  let temp: ReturnType<typeof makeTempDir> | null = null;
  const unit = Number(process.env.TEST_SERIAL_UNIT ?? 1);

  beforeAll(async () => {
    let port = realPort;
    if (!port) {
      temp = makeTempDir("reefer-edge-hil-");
      link = new SerialLink(socat.path ?? "socat", temp.dir);
      await link.plug();
      slave = new ModbusSlaveBus(link.devicePath);
      await slave.attach();
      slave.addUnit(unit).setInputs(1, [0x00e1, 0x0253]); // 22.5 °C, 59.5 %
      port = link.gatewayPath;
    }
    driver = modbusDriver(
      {
        type: "modbus-rtu",
        port,
        ...(process.env.TEST_SERIAL_BAUD && { baudRate: Number(process.env.TEST_SERIAL_BAUD) }),
        ...(process.env.TEST_SERIAL_PARITY && { parity: process.env.TEST_SERIAL_PARITY }),
        devices: [{ unitId: unit, profile: process.env.TEST_SERIAL_PROFILE ?? "xy-md02" }],
      },
      process.cwd(),
      { containerId: "REAL", metrics, logger: pino({ level: "warn" }) },
    );
    await driver.open();
  });
  afterAll(async () => {
    await driver.close();
    await slave?.detach();
    await link?.unplug();
    temp?.cleanup();
  });

  it("reads plausible values twenty times in a row, with no bus error", async () => {
    // Paced by a 200 ms clock, as the agent's sampler reads a real sensor on a real bus, not back
    // to back: each read starts on a tick and is awaited before the next (ticks that passed
    // during a slow read come at once after it).
    let reads = 0;
    for await (const tick of setInterval(200, "tick")) {
      expect(tick).toBe("tick");
      const measurement = await driver.read(AbortSignal.timeout(5000));
      const fields = Object.entries(measurement);
      expect(fields.length).toBeGreaterThan(0);
      for (const [field, value] of fields) {
        if (typeof value !== "number") continue;
        const [low, high] = FIELD_RANGES[field as NumericField];
        expect(value, field).toBeGreaterThanOrEqual(low);
        expect(value, field).toBeLessThanOrEqual(high);
      }
      if (++reads === 20) break;
    }
    expect(metrics.total("modbus_errors")).toBe(0);
  }, 60_000);
});
