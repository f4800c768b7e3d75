import { z } from "zod";
import type { Driver, DriverContext, DriverDefinition } from "./driver.js";
import { simulatedDriver } from "./simulated/driver.js";

/**
 * The one table of driver types. A new driver is a folder under drivers/ and one line here; the
 * config schema, `validate` and the docs pick it up from this table.
 */
export const DRIVERS = {
  simulated: simulatedDriver,
} as const satisfies Record<string, DriverDefinition>;

export type DriverType = keyof typeof DRIVERS;

/** The `driver:` block of a container: a union discriminated by `type`. */
export const driverConfigSchema = z.discriminatedUnion("type", [DRIVERS.simulated.configSchema]);

export type DriverConfig = z.output<typeof driverConfigSchema>;

export function createDriver(config: DriverConfig, context: DriverContext): Driver {
  // The config was parsed by this same definition's schema (driverConfigSchema), so it fits.
  const definition: DriverDefinition = DRIVERS[config.type];
  return definition.create(config, context);
}
