import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOLEAN_FIELDS, NUMERIC_FIELDS } from "../core/record.js";
import type { Driver } from "./driver.js";

/** A driver under test, on whatever its "hardware" is in this run. */
export interface DriverUnderTest {
  /** A new, unopened driver of one container. */
  make(): Driver;
  /** Where the hardware can be made silent (a dead slave) and brought back. */
  readonly silence?: { off(): void; on(): void };
  /** Where a read can be made to hang past its deadline (a slow slave); `replied` waits for the late reply to be sent. */
  readonly stall?: () => { replied(): Promise<void> };
  stop(): Promise<void>;
}

const FIELDS = new Set<string>([...NUMERIC_FIELDS, ...BOOLEAN_FIELDS]);
const soon = () => AbortSignal.timeout(5_000);

/** The optional checks a run's hardware allows, known before it starts (vitest collects first). */
export interface HardwareCapabilities {
  readonly silence: boolean;
  readonly stall: boolean;
}

/**
 * The Driver contract (drivers/driver.ts), one suite for every driver in the registry, as
 * serialport runs one suite over its mock and real bindings (test/hil/driver-contract.test.ts
 * runs it once per entry of the registry's table).
 */
export function driverContract(
  name: string,
  can: HardwareCapabilities,
  start: () => Promise<DriverUnderTest>,
): void {
  describe(`Driver contract: ${name}`, () => {
    let hw: DriverUnderTest;
    const drivers: Driver[] = [];
    const make = () => {
      const driver = hw.make();
      drivers.push(driver);
      return driver;
    };
    beforeAll(async () => {
      hw = await start();
    });
    afterAll(async () => {
      await Promise.all(drivers.map((d) => d.close()));
      await hw.stop();
    });

    it("reads only wire-contract fields, each a finite number, a boolean or null", async () => {
      const driver = make();
      await driver.open();
      const measurement = await driver.read(soon());
      expect(Object.keys(measurement).length).toBeGreaterThan(0);
      for (const [field, value] of Object.entries(measurement)) {
        expect(FIELDS.has(field), field).toBe(true);
        if (value === null) continue;
        if (NUMERIC_FIELDS.includes(field as never))
          expect(Number.isFinite(value), field).toBe(true);
        else expect(typeof value, field).toBe("boolean");
      }
    });

    it("reads again on every call, one read after the other", async () => {
      const driver = make();
      await driver.open();
      for (let i = 0; i < 3; i++) await expect(driver.read(soon())).resolves.toBeTypeOf("object");
    });

    it("rejects at once when its signal is already aborted", async () => {
      const driver = make();
      await driver.open();
      const aborted = new AbortController();
      aborted.abort();
      await expect(driver.read(aborted.signal)).rejects.toBeInstanceOf(Error);
    });

    it("can be closed twice, and without ever being opened", async () => {
      const driver = make();
      await driver.close();
      await driver.close();
      const opened = make();
      await opened.open();
      await opened.close();
      await expect(opened.close()).resolves.toBeUndefined();
    });

    if (can.silence) {
      it("rejects when its device is silent, naming a class, and reads again once it is back", async () => {
        const driver = make();
        await driver.open();
        hw.silence?.off();
        const error = (await driver.read(soon()).catch((e: unknown) => e)) as {
          errorClass?: unknown;
        };
        expect(error).toBeInstanceOf(Error);
        expect(typeof error.errorClass).toBe("string");
        hw.silence?.on();
        // The very next read answers: a request must not be left waiting for a later caller.
        await expect(driver.read(soon())).resolves.toBeTypeOf("object");
        await expect(driver.read(soon())).resolves.toBeTypeOf("object");
      });
    }
    if (can.stall) {
      it("stops waiting when its signal aborts mid-read, and stays usable", async () => {
        const driver = make();
        await driver.open();
        const stalled = hw.stall?.();
        const controller = new AbortController();
        const reading = driver.read(controller.signal);
        setTimeout(() => controller.abort(new Error("deadline")), 20);
        await expect(reading).rejects.toBeInstanceOf(Error);
        // The stalled reply comes late, after the read gave up: the driver drops it and reads on.
        await stalled?.replied();
        await expect(driver.read(soon())).resolves.toBeTypeOf("object");
      });
    }
  });
}
