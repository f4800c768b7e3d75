import pino from "pino";
import { systemClock } from "../../core/clock.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import { driverContract } from "../../drivers/driver.contract.js";
import { simulatedDriver } from "../../drivers/simulated/driver.js";
import { driverContext } from "../support/driver-context.js";
import { Rig, requireSocat } from "./rig.js";
import { modbusDriver } from "./modbus-driver.js";
import { TcpSlave } from "./tcp-slave.js";

// The RTU run needs a pty pair; a missing socat fails under CI and is reported on a laptop.
const socat = requireSocat();

driverContract("simulated", () =>
  Promise.resolve({
    make: () =>
      simulatedDriver.create(
        simulatedDriver.configSchema.parse({ type: "simulated", scenario: "temperature-rising" }),
        driverContext({
          containerId: "SIM1",
          product: BUILTIN_PRODUCTS[0] as Product,
          clock: systemClock,
          logger: pino({ level: "silent" }),
        }),
      ),
    stop: () => Promise.resolve(),
  }),
);

if (!socat.skip) {
  driverContract("modbus-rtu over a pty RS-485 line", async () => {
    const rig = await Rig.start(socat.path ?? "socat");
    const unit = rig.slave.addUnit(3);
    unit.setInputs(1, [45, 520]);
    return {
      make: () =>
        rig.driver("RTU3", {
          devices: [{ unitId: 3, profile: "xy-md02" }],
          breaker: { failuresToOpen: 100, probeAfterMs: 100, maxProbeAfterMs: 100 },
        }),
      silence: { off: () => (unit.dead = true), on: () => (unit.dead = false) },
      stall: () => unit.faults.push({ kind: "slow", ms: 400 }),
      stop: () => rig.stop(),
    };
  });
}

driverContract("modbus-tcp to a loopback device", async () => {
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
    stall: () => slave.unit.faults.push({ kind: "slow", ms: 400 }),
    stop: () => slave.stop(),
  };
});
