import pino from "pino";
import { systemClock } from "../../core/clock.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import type { DriverUnderTest } from "../../drivers/driver.contract.js";
import type { DriverType } from "../../drivers/registry.js";
import { simulatedDriver } from "../../drivers/simulated/driver.js";
import { driverContext } from "../support/driver-context.js";
import { waitFor } from "../support/wait-for.js";
import { modbusDriver } from "./modbus-driver.js";
import type { SlaveUnit } from "./modbus-slave.js";
import { Rig, requireSocat } from "./rig.js";
import { TcpSlave } from "./tcp-slave.js";

/** The "hardware" one driver type of the registry is tested against. */
export interface DriverRig {
  /** What the driver talks to, for the suite's name. */
  readonly hardware: string;
  /**
   * The optional checks this hardware allows, known before it starts (vitest collects tests
   * first): simulated reefers cannot fall silent or stall; Modbus devices can.
   */
  readonly can: { readonly silence: boolean; readonly stall: boolean };
  /** Skips the run with a printed reason on a laptop without a tool; throws in CI. */
  readonly skip?: () => boolean;
  start(): Promise<DriverUnderTest>;
}

/**
 * One rig for every entry of drivers/registry.ts's table: the mapped type makes a driver added
 * there without a rig here a compile error, so no driver escapes the contract.
 */
export const DRIVER_RIGS: { readonly [T in DriverType]: DriverRig } = {
  simulated: {
    hardware: "a simulated reefer",
    can: { silence: false, stall: false },
    start: () =>
      Promise.resolve({
        make: () =>
          simulatedDriver.create(
            simulatedDriver.configSchema.parse({
              type: "simulated",
              scenario: "temperature-rising",
            }),
            driverContext({
              containerId: "SIM1",
              product: BUILTIN_PRODUCTS[0] as Product,
              clock: systemClock,
              logger: pino({ level: "silent" }),
            }),
          ),
        stop: () => Promise.resolve(),
      }),
  },
  "modbus-rtu": {
    hardware: "a pty RS-485 line (socat) and a jsmodbus slave",
    can: { silence: true, stall: true },
    // The RTU run needs a pty pair; a missing socat fails under CI and is reported on a laptop.
    skip: () => requireSocat().skip,
    start: async () => {
      const rig = await Rig.start(requireSocat().path ?? "socat");
      const unit = rig.slave.addUnit(3);
      unit.setInputs(1, [45, 520]);
      return {
        make: () =>
          rig.driver("RTU3", {
            devices: [{ unitId: 3, profile: "xy-md02" }],
            breaker: { failuresToOpen: 100, probeAfterMs: 100, maxProbeAfterMs: 100 },
          }),
        silence: { off: () => (unit.dead = true), on: () => (unit.dead = false) },
        stall: () => stallOnce(unit),
        stop: () => rig.stop(),
      };
    },
  },
  "modbus-tcp": {
    hardware: "a jsmodbus device on a loopback port",
    can: { silence: true, stall: true },
    start: async () => {
      const slave = new TcpSlave();
      await slave.start();
      slave.unit.setInputs(1, [45, 520]);
      return {
        make: () =>
          modbusDriver(
            {
              type: "modbus-tcp",
              host: "127.0.0.1",
              port: slave.port,
              timeoutMs: 150,
              retries: 0,
              breaker: { failuresToOpen: 100, probeAfterMs: 100, maxProbeAfterMs: 100 },
              devices: [{ unitId: 1, profile: "xy-md02" }],
            },
            ".",
          ),
        silence: {
          off: () => {
            for (let i = 0; i < 5; i++) slave.unit.faults.push({ kind: "drop" });
          },
          on: () => slave.unit.faults.splice(0),
        },
        stall: () => stallOnce(slave.unit),
        stop: () => slave.stop(),
      };
    },
  },
};

/** The unit's next reply leaves 400 ms late; `replied` waits until it has left (a fact, not a sleep). */
function stallOnce(unit: SlaveUnit): { replied(): Promise<void> } {
  const before = unit.lateReplies;
  unit.faults.push({ kind: "slow", ms: 400 });
  return {
    replied: () =>
      waitFor("the stalled reply to leave the slave", () => unit.lateReplies > before, 10_000),
  };
}
