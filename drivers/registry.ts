import { z } from "zod";
import type { Driver, DriverContext, DriverDefinition, DriverProblem } from "./driver.js";
import { modbusRtuDriver, modbusTcpDriver } from "./modbus/driver.js";
import { simulatedDriver } from "./simulated/driver.js";

/**
 * The one table of driver types. A new driver is a folder under drivers/ and one line here; the
 * config schema, `validate` and the docs pick it up from this table.
 */
export const DRIVERS = {
  simulated: simulatedDriver,
  "modbus-rtu": modbusRtuDriver,
  "modbus-tcp": modbusTcpDriver,
} as const satisfies Record<string, DriverDefinition>;

export type DriverType = keyof typeof DRIVERS;

/** The `driver:` block of a container: a union discriminated by `type`. */
export const driverConfigSchema = z.discriminatedUnion("type", [
  DRIVERS.simulated.configSchema,
  DRIVERS["modbus-rtu"].configSchema,
  DRIVERS["modbus-tcp"].configSchema,
]);

export type DriverConfig = z.output<typeof driverConfigSchema>;

export function createDriver(config: DriverConfig, context: DriverContext): Driver {
  // The config was parsed by this same definition's schema (driverConfigSchema), so it fits.
  const definition: DriverDefinition = DRIVERS[config.type];
  return definition.create(config, context);
}

/**
 * The file-dependent checks of every container's driver (see DriverDefinition.prepare and
 * checkTogether): returns the config with driver paths resolved, and the problems found, at
 * absolute paths such as `containers[1].driver.devices[0].profile`.
 */
export function prepareDrivers<C extends { driver: DriverConfig }>(
  containers: readonly C[],
  baseDir: string,
): { containers: C[]; problems: DriverProblem[] } {
  const problems: DriverProblem[] = [];
  const prepared = containers.map((container, index) => {
    const definition = DRIVERS[container.driver.type] as DriverDefinition;
    if (!definition.prepare) return container;
    const result = definition.prepare(container.driver, baseDir);
    for (const p of result.problems) {
      problems.push({ path: `containers[${index}].driver.${p.path}`, message: p.message });
    }
    return { ...container, driver: result.config as DriverConfig };
  });
  for (const type of Object.keys(DRIVERS) as DriverType[]) {
    const definition = DRIVERS[type] as DriverDefinition;
    const drivers = prepared.flatMap((c, index) =>
      c.driver.type === type ? [{ path: `containers[${index}].driver`, config: c.driver }] : [],
    );
    if (definition.checkTogether && drivers.length > 0) {
      problems.push(...definition.checkTogether(drivers));
    }
  }
  return { containers: prepared, problems };
}
