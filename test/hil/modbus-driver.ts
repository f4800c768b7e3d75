import pino from "pino";
import type { Driver, DriverContext } from "../../drivers/driver.js";
import { modbusRtuDriver, modbusTcpDriver } from "../../drivers/modbus/driver.js";
import { prepareModbusConfig } from "../../drivers/modbus/validation.js";
import { driverContext } from "../support/driver-context.js";

/**
 * A Modbus driver configured as a user's config is: the driver block parsed by its schema,
 * prepared (profiles loaded, paths resolved against `baseDir`), then created. Throws on any
 * config problem, with every problem.
 */
export function modbusDriver(
  block: { type: "modbus-rtu" | "modbus-tcp" } & Record<string, unknown>,
  baseDir: string,
  context: Partial<DriverContext> = {},
): Driver {
  const full = driverContext({ logger: pino({ level: "silent" }), ...context });
  const fail = (problems: readonly { path: string; message: string }[]): never => {
    throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  };
  if (block.type === "modbus-rtu") {
    const prepared = prepareModbusConfig(modbusRtuDriver.configSchema.parse(block), baseDir);
    if (prepared.problems.length > 0) fail(prepared.problems);
    return modbusRtuDriver.create(prepared.config, full);
  }
  const prepared = prepareModbusConfig(modbusTcpDriver.configSchema.parse(block), baseDir);
  if (prepared.problems.length > 0) fail(prepared.problems);
  return modbusTcpDriver.create(prepared.config, full);
}
